import v8 from "node:v8";
import { testConfig } from "./domain/config.ts";
import { registerUser } from "./domain/accounts.ts";
import { mintDevices } from "./domain/devices.ts";
import { bindToy } from "./domain/toys.ts";
import { startServer } from "./main.ts";
const N = 2000;
const dir = await Deno.makeTempDir();
const s = await startServer(
  testConfig({ kv: `${dir}/b.kv`, transcodeWorkers: 1 }),
  { quiet: true },
);
const user = await registerUser(s.kv, {
  username: "hp",
  password: "bench-password",
});
const keys = await mintDevices(s.kv, N);
const paths: string[] = [];
for (const [i, deviceKey] of keys.entries()) {
  const toy = await bindToy(s.kv, {
    userId: user._id,
    deviceKey,
    toyName: `T${i}`,
    babyName: `C${i}`,
    remark: "Dad",
  });
  paths.push(`/toy/${toy._id}?device_key=${deviceKey}`);
}
await Deno.writeTextFile(
  "/tmp/zz_paths.json",
  JSON.stringify({ url: s.url.replace("http", "ws"), paths }),
);
const client = `
const { url, paths } = JSON.parse(await Deno.readTextFile("/tmp/zz_paths.json"));
const socks = [];
for (let i = 0; i < paths.length; i += 50) {
  await Promise.all(paths.slice(i, i + 50).map((p) => new Promise((res, rej) => { const w = new WebSocket(url + p); w.onopen = res; w.onerror = rej; socks.push(w); })));
}
console.log("READY");
await new Promise((r) => setTimeout(r, 60000));
`;
await Deno.writeTextFile("/tmp/zz_client.ts", client);
(globalThis as any).gc?.();
v8.writeHeapSnapshot("/tmp/h0.heapsnapshot");
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "/tmp/zz_client.ts"],
  stdout: "piped",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let out = "";
while (!out.includes("READY")) {
  const { value } = await reader.read();
  out += value;
}
await new Promise((r) => setTimeout(r, 3000));
(globalThis as any).gc?.();
console.log(
  "heap per socket KB",
  ((Deno.memoryUsage().heapUsed) / 1024).toFixed(0),
);
v8.writeHeapSnapshot("/tmp/h1.heapsnapshot");
child.kill();
await child.status;
reader.releaseLock();
await s.close();
