// The CPU-bound job of cpu-workers.ts, run in worker threads: it is loaded
// there by path (runInWorker imports it in each worker), never by the example
// itself, which only imports its type.

/** Whether `n` is prime, by trial division: deliberately plain CPU work. */
function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) {
    if (n % d === 0) return false;
  }
  return true;
}

/** How many primes there are in [from, to). */
export function countPrimes(from: number, to: number): number {
  let count = 0;
  for (let n = from; n < to; n++) {
    if (isPrime(n)) count++;
  }
  return count;
}
