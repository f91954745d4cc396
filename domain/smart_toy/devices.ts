import QRCode from "qrcode";
import { AppError } from "../platform/errors.ts";
import { randomHex } from "../store/ids.ts";

/**
 * Device keys: minted by the operator, printed as QR codes, written into
 * toys. A device is bound to at most one toy.
 *
 * | key                  | value   |
 * | -------------------- | ------- |
 * | ["devices", key]     | Device  |
 */

/** A minted device. `toy_id` is set while it is bound. */
export interface Device {
  device_key: string;
  toy_id: string | null;
  created_at: number;
}

/** A device key: 32 lowercase hex characters (128 bits). */
export const DEVICE_KEY = /^[0-9a-f]{32}$/;

/** Throws 400 unless `key` is a well-formed device key. */
export function checkDeviceKey(key: string): void {
  if (!DEVICE_KEY.test(key)) {
    throw new AppError(
      400,
      `"device_key" must be 32 hex characters, got "${key.slice(0, 40)}"`,
    );
  }
}

/** Mints `count` new device keys (1-10000); each is stored once, atomically. */
export async function mintDevices(
  kv: Deno.Kv,
  count: number,
): Promise<string[]> {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    throw new AppError(
      400,
      `"count" must be a whole number from 1 to 10000, got ${count}`,
    );
  }
  const keys: string[] = [];
  const now = Date.now() / 1000;
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from(
      { length: Math.min(10, count - i) },
      () => randomHex(16),
    );
    const op = kv.atomic();
    for (const key of batch) {
      const device: Device = { device_key: key, toy_id: null, created_at: now };
      op.check({ key: ["devices", key], versionstamp: null }).set([
        "devices",
        key,
      ], device);
    }
    const res = await op.commit();
    if (!res.ok) throw new Error("device key collision; run again");
    keys.push(...batch);
  }
  return keys;
}

/** Reads a device with its versionstamp, or null. */
export async function getDevice(
  kv: Deno.Kv,
  key: string,
): Promise<Deno.KvEntry<Device> | null> {
  if (!DEVICE_KEY.test(key)) return null;
  const entry = await kv.get<Device>(["devices", key]);
  return entry.value ? entry as Deno.KvEntry<Device> : null;
}

/** Options of `listDevices`. */
export interface ListDevicesOptions {
  /** Devices per page, 1-1000. */
  limit?: number;
  /** Where the previous page ended (its `cursor`). */
  cursor?: string;
}

/**
 * One page of minted devices in key order, and the cursor of the next page
 * (null on the last). A cursor that did not come from this listing is 400.
 */
export async function listDevices(
  kv: Deno.Kv,
  { limit = 100, cursor }: ListDevicesOptions = {},
): Promise<{ devices: Device[]; cursor: string | null }> {
  const entries = kv.list<Device>({ prefix: ["devices"] }, { limit, cursor });
  const devices: Device[] = [];
  try {
    for await (const entry of entries) devices.push(entry.value);
  } catch (err) {
    if (cursor === undefined) throw err;
    throw new AppError(
      400,
      `"cursor" must be the cursor of a previous page, got "${
        cursor.slice(0, 40)
      }"`,
      { cause: err },
    );
  }
  return {
    devices,
    cursor: devices.length === limit && entries.cursor ? entries.cursor : null,
  };
}

/**
 * Adds to `op` a check that `device` is unchanged since it was read and
 * the setting of the toy it is bound to (null frees it), so a bind or an
 * unbind commits the device with the toy in one atomic op.
 */
export function setDeviceToy(
  op: Deno.AtomicOperation,
  device: Deno.KvEntry<Device>,
  toyId: string | null,
): Deno.AtomicOperation {
  const bound: Device = { ...device.value, toy_id: toyId };
  return op.check(device).set(["devices", device.value.device_key], bound);
}

/**
 * A device's QR code as a PNG (the code holds the device key, as the
 * parents' app scans it): 300 px wide with a 2-module margin, printable.
 */
export async function deviceQrPng(
  deviceKey: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await QRCode.toBuffer(deviceKey, { type: "png", width: 300, margin: 2 }),
  );
}
