// expect: weft/no-floating-weft-promise
// The lock is "taken" without awaiting it: the critical section runs unprotected.
import { Lock } from "@weft/core";

const lock = new Lock();
let balance = 0;

export function currentBalance(): number {
  return balance;
}

export async function deposit(amount: number): Promise<void> {
  lock.acquire();
  try {
    balance += amount;
  } finally {
    lock.release();
  }
}
