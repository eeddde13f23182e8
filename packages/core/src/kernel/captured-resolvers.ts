// A shared promise executor: it hands the resolving functions over through
// these two variables, so making a wait promise allocates no closure. Read
// them right after `new Promise(captureResolvers)`, before anything else can
// make another promise with it.
export let capturedResolve: (value: unknown) => void = () => {};
export let capturedReject: (error: unknown) => void = () => {};
export function captureResolvers(
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
): void {
  capturedResolve = resolve;
  capturedReject = reject;
}
