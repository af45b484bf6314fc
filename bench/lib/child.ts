import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";

/** A bench worker in its own process (node with the tsx loader), spoken to over IPC. */
export type Worker = { child: ChildProcess; request<T>(message: Record<string, unknown>, reply: string): Promise<T>; stop(): Promise<void> };

export function startWorker(file: string): Worker {
  const child = fork(join(import.meta.dirname, "..", file), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return {
    child,
    request: <T>(message: Record<string, unknown>, reply: string) =>
      new Promise<T>((resolve, reject) => {
        const onMessage = (m: { type: string; error?: string }) => {
          if (m.type === "error") {
            child.off("message", onMessage);
            reject(new Error(m.error));
          } else if (m.type === reply) {
            child.off("message", onMessage);
            resolve(m as T);
          }
        };
        child.on("message", onMessage);
        child.send(message);
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.send({ type: "close" });
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
