import { capturedResolve, captureResolvers } from "./captured-resolvers.ts";

/**
 * A callback for host APIs (a timer, an immediate) that runs its handler in
 * the async context the trigger was created in — the kernel's — whatever
 * context the host calls it from: Node runs a timer's callback in the context
 * that armed it, which may be a task's. Calling {@link ContextTrigger.fire}
 * settles a promise whose reaction was registered in that context, so the
 * handler runs one microtask later, before the host's next callback (Node
 * drains the microtask queue after each one).
 *
 * It replaced `AsyncLocalStorage.bind`, whose AsyncResource cost about 15% of
 * an empty `run()` for the two a kernel needs (issue 19). Create it in the
 * context its handler must run in.
 */
export class ContextTrigger {
  #resolve: ((value: unknown) => void) | null = null;
  readonly #handler: () => void;

  constructor(handler: () => void) {
    this.#handler = handler;
    this.#arm();
  }

  /** For the host: runs the handler a microtask from now, in the trigger's context (once per call). */
  readonly fire = (): void => {
    const resolve = this.#resolve;
    this.#resolve = null;
    resolve?.(undefined);
  };

  #arm(): void {
    const trigger = new Promise(captureResolvers);
    this.#resolve = capturedResolve;
    trigger.then(this.#run);
  }

  // A reaction registered by #arm: it runs in the trigger's context, and re-arms from there.
  readonly #run = (): void => {
    this.#arm();
    this.#handler();
  };
}
