/**
 * An Instrument that counts the run's live tasks (spawned and not yet
 * exited) and the connections accepted: serveListeners runs each accepted
 * connection in a task named "connection handler", for serveHttp and
 * serveTcp alike.
 */
import type { Instrument, Task } from "@weft/core";

/** The name serveListeners gives each connection's task (packages/net/src/sockets/serve.ts). */
const CONNECTION_TASK = "connection handler";

export class TaskCensus implements Instrument {
  live = 0;
  connections = 0;

  taskSpawned(task: Task): void {
    this.live++;
    if (task.name === CONNECTION_TASK) this.connections++;
  }

  taskExited(): void {
    this.live--;
  }
}
