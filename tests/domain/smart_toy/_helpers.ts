import assert from "node:assert/strict";
import { registerUser } from "../../../domain/smart_toy/accounts.ts";
import { mintDevices } from "../../../domain/smart_toy/devices.ts";
import { AppError } from "../../../domain/platform/errors.ts";

/** Fixtures of the smart-toy domain tests (over KV, no server). */

/** Asserts `promise` rejects with an AppError of `status`. */
export async function rejectsWith(
  promise: Promise<unknown>,
  status: number,
  check: (err: AppError) => void = () => {},
): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, status, err.message);
    check(err);
    return true;
  });
}

let n = 0;

/** A registered parent and a freshly minted device. */
export async function parentWithDevice(kv: Deno.Kv) {
  n++;
  const user = await registerUser(kv, {
    username: `parent${n}`,
    password: "pw-123456",
    nickname: `Parent ${n}`,
  });
  const [deviceKey] = await mintDevices(kv, 1);
  return { user, deviceKey };
}

/** What `bindToy` needs for a parent and a device. */
export function bindInput(userId: string, deviceKey: string) {
  return {
    userId,
    deviceKey,
    toyName: "Ball ball",
    babyName: "Small dung ball",
    remark: "Dad",
  };
}
