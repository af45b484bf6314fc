export { createAiutamiClient } from "./client";
export type { AiutamiClient, AiutamiClientOptions, AuthResult, LogInInput, Me, SignUpInput } from "./client";
export { AiutamiError } from "./errors";
export type { AiutamiErrorCode, FieldIssue } from "./errors";
export { NotificationInbox } from "./inbox";
export type { InboxEvents, InboxStatus, Notification, NotificationType, ReadEvent } from "./inbox";
export { browserStorage, memoryStorage } from "./storage";
export type { TokenStorage } from "./storage";
export type { ApiErrorShape, AppRouter } from "./generated/router";
