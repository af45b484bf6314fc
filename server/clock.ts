/** Time as the services see it; tests inject a clock to move it forward. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
