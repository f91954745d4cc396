import assert from "node:assert/strict";
import {
  type AudioFormat,
  createTranscoder,
  mp3AudioFrames,
  sniffAudioFormat,
  TranscodeError,
  type Transcoder,
  type TranscoderOptions,
} from "../../../domain/audio/transcoder.ts";

/** Reads a committed fixture (see tests/fixtures/make_fixtures.sh). */
function fixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(`../../fixtures/${name}`, import.meta.url));
}

/** A transcoder that `await using` closes, even when the test fails. */
const CRASHING_WORKER = new URL(
  "../../fixtures/crashing_worker.ts",
  import.meta.url,
);

function openTranscoder(
  options: TranscoderOptions = {},
): Transcoder & AsyncDisposable {
  const transcoder = createTranscoder({ workers: 1, ...options });
  return Object.assign(transcoder, {
    [Symbol.asyncDispose]: () => transcoder.close(),
  });
}

/** A predicate for `assert.rejects`: a TranscodeError with this status. */
function transcodeError(status: number) {
  return function isTranscodeError(error: unknown): boolean {
    assert.ok(
      error instanceof TranscodeError,
      `not a TranscodeError: ${error}`,
    );
    assert.equal(error.status, status, error.message);
    return true;
  };
}

/** Resolves once some job of the pool is running on a worker. */
async function untilBusy(transcoder: Transcoder): Promise<void> {
  while (transcoder.stats().busy === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An AMR-NB upload of `repeats` times the 10 s clip, for long jobs. */
async function longAmr(repeats: number): Promise<Uint8Array> {
  const clip = await fixture("speech10.amr");
  const frames = clip.subarray(6);
  const long = new Uint8Array(6 + frames.length * repeats);
  long.set(clip.subarray(0, 6));
  for (let i = 0; i < repeats; i++) long.set(frames, 6 + i * frames.length);
  return long;
}

Deno.test("sniffAudioFormat names each fixture by its magic bytes", async () => {
  const expected: [string, AudioFormat | null][] = [
    ["speech.amr", "amr"],
    ["speech10.amr", "amr"],
    ["speech.wav", "wav"],
    ["speech.webm", "webm"],
    ["speech.m4a", "m4a"],
    ["speech.ogg", "ogg"],
    ["speech.mp3", "mp3"],
    ["speech_stereo.mp3", "mp3"],
    ["not_audio.bin", null],
  ];
  for (const [name, format] of expected) {
    assert.equal(sniffAudioFormat(await fixture(name)), format, name);
  }
});

Deno.test("sniffAudioFormat refuses text, empty input and non-MP3 syncs", () => {
  const text = new TextEncoder().encode("hello, this is not audio at all");
  assert.equal(sniffAudioFormat(text), null);
  assert.equal(sniffAudioFormat(new Uint8Array()), null);
  assert.equal(sniffAudioFormat(new TextEncoder().encode("#!AMR")), null);
  // An ADTS (AAC) header has the MPEG sync but layer bits 00.
  assert.equal(
    sniffAudioFormat(new Uint8Array([0xff, 0xf1, 0x50, 0x80])),
    null,
  );
  // A plausible MPEG header whose next frame is missing is noise.
  const noise = new Uint8Array(1000).fill(0x55);
  noise.set([0xff, 0xfb, 0x90, 0x00]);
  assert.equal(sniffAudioFormat(noise), null);
});

Deno.test("each upload format converts to a mono MP3 of the same length", async () => {
  await using transcoder = openTranscoder();
  const formats: [string, AudioFormat][] = [
    ["speech.amr", "amr"],
    ["speech.wav", "wav"],
    ["speech.webm", "webm"],
    ["speech.m4a", "m4a"],
    ["speech.ogg", "ogg"],
    ["speech.mp3", "mp3"],
    ["speech_stereo.mp3", "mp3"],
  ];
  for (const [name, format] of formats) {
    const result = await transcoder.toMp3(await fixture(name));
    assert.equal(result.inputFormat, format, name);
    assert.equal(result.mp3[0], 0xff, `${name}: output starts with frame sync`);
    assert.equal(result.mp3[1] & 0xe0, 0xe0, `${name}: output frame sync`);
    assert.equal(sniffAudioFormat(result.mp3), "mp3", name);
    assert.ok(mp3AudioFrames(result.mp3).frames > 80, name);
    assert.ok(
      Math.abs(result.durationSec - 3) <= 0.5,
      `${name}: expected about 3 s, got ${result.durationSec}`,
    );

    const again = await transcoder.toMp3(result.mp3);
    assert.equal(again.inputFormat, "mp3");
    assert.ok(
      Math.abs(again.durationSec - result.durationSec) <= 0.1,
      `${name}: re-decoded ${again.durationSec} s vs ${result.durationSec} s`,
    );
  }
  assert.deepEqual(
    transcoder.stats(),
    {
      workers: 1,
      busy: 0,
      queued: 0,
      // Six re-encodings: the mono MP3 upload and every mono 48 kbit/s
      // output, converted again, are stored as they are.
      completed: 6,
      failed: 0,
      recycled: 0,
    },
  );
});

Deno.test("a mono MP3 at a sane bitrate is kept as uploaded, without its tags", async () => {
  await using transcoder = openTranscoder();
  const upload = await fixture("speech.mp3");
  const result = await transcoder.toMp3(upload);
  assert.equal(transcoder.stats().completed, 0, "no worker ran");
  // The ID3v2 tag (a title here; it may hold names or places) is dropped.
  assert.equal(sniffAudioFormat(result.mp3), "mp3");
  assert.notEqual(result.mp3[0], 0x49 /* "I" of ID3 */);
  const tagEnd = upload.length - result.mp3.length;
  assert.deepEqual(result.mp3, upload.subarray(tagEnd));
  assert.ok(Math.abs(result.durationSec - 3) <= 0.5);
  // A stereo MP3 is re-encoded to mono.
  const stereo = await transcoder.toMp3(await fixture("speech_stereo.mp3"));
  assert.equal(transcoder.stats().completed, 1);
  assert.ok(stereo.mp3.length < (await fixture("speech_stereo.mp3")).length);
});

Deno.test("a 10 s AMR clip reports 10 s", async () => {
  await using transcoder = openTranscoder();
  const result = await transcoder.toMp3(await fixture("speech10.amr"));
  assert.ok(
    Math.abs(result.durationSec - 10) <= 0.5,
    `expected about 10 s, got ${result.durationSec}`,
  );
  assert.ok(Math.abs(mp3AudioFrames(result.mp3).seconds - 10) <= 0.5);
});

Deno.test("what is not audio is refused with 415 before any worker starts", async () => {
  await using transcoder = openTranscoder();
  await assert.rejects(
    transcoder.toMp3(await fixture("not_audio.bin")),
    transcodeError(415),
  );
  await assert.rejects(
    transcoder.toMp3(new TextEncoder().encode("just some text")),
    transcodeError(415),
  );
  assert.equal(transcoder.stats().workers, 0);
  assert.equal(transcoder.stats().failed, 0);
});

Deno.test("audio magic over garbage is refused with 415", async () => {
  await using transcoder = openTranscoder();
  const garbage = new Uint8Array(3000).fill(0x42);
  garbage.set([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0x10]); // "ID3" v2.3 header
  await assert.rejects(transcoder.toMp3(garbage), transcodeError(415));
  assert.equal(transcoder.stats().failed, 1);
  assert.equal(transcoder.stats().workers, 0, "a failed worker is replaced");
});

Deno.test("a header-only AMR or WAV is refused with 415", async () => {
  await using transcoder = openTranscoder();
  const amr = await fixture("speech.amr");
  const wav = await fixture("speech.wav");
  for (const [name, cut] of [[amr, 20], [wav, 20], [wav, 44]] as const) {
    await assert.rejects(
      transcoder.toMp3(name.slice(0, cut)),
      transcodeError(415),
      `first ${cut} bytes`,
    );
  }
});

Deno.test("an upload cut in half yields the half that is there", async () => {
  await using transcoder = openTranscoder();
  for (const name of ["speech.amr", "speech.wav"]) {
    const whole = await fixture(name);
    const half = await transcoder.toMp3(whole.slice(0, whole.length / 2));
    assert.ok(
      Math.abs(half.durationSec - 1.5) <= 0.5,
      `${name}: expected about 1.5 s, got ${half.durationSec}`,
    );
    assert.equal(sniffAudioFormat(half.mp3), "mp3");
  }
});

Deno.test("an upload over maxInputBytes is refused with 413", async () => {
  await using transcoder = openTranscoder({ maxInputBytes: 50_000 });
  await assert.rejects(
    transcoder.toMp3(await fixture("speech.wav")),
    transcodeError(413),
  );
  assert.equal(transcoder.stats().workers, 0);
});

Deno.test("a worker that crashes mid-job fails that job with 503; the next succeeds", async () => {
  // The crashing worker dies 300 ms into any job above 500 kB, as an
  // ffmpeg.wasm trap would; ten minutes of AMR is such a job.
  await using transcoder = openTranscoder({ workerUrl: CRASHING_WORKER });
  const doomed = transcoder.toMp3(await longAmr(60));
  await untilBusy(transcoder);
  await assert.rejects(doomed, transcodeError(503));
  assert.equal(transcoder.stats().workers, 0);

  const next = await transcoder.toMp3(await fixture("speech.amr"));
  assert.ok(Math.abs(next.durationSec - 3) <= 0.5);
  assert.deepEqual(
    [transcoder.stats().completed, transcoder.stats().failed],
    [1, 1],
  );
});

Deno.test("a job over its time limit is terminated with 504; the next succeeds", async () => {
  // Half an hour of AMR takes many seconds to convert; the limit stops it.
  await using transcoder = openTranscoder({ jobTimeoutMs: 1500 });
  await assert.rejects(
    transcoder.toMp3(await longAmr(180)),
    transcodeError(504),
  );
  assert.equal(transcoder.stats().workers, 0, "the stuck worker is gone");
  assert.equal(transcoder.stats().recycled, 1);

  const next = await transcoder.toMp3(await fixture("speech.wav"));
  assert.ok(Math.abs(next.durationSec - 3) <= 0.5);
});

Deno.test("workers are replaced after maxJobsPerWorker jobs", async () => {
  await using transcoder = openTranscoder({ workers: 2, maxJobsPerWorker: 2 });
  const amr = await fixture("speech.amr");
  const results = await Promise.all(
    Array.from({ length: 5 }, () => transcoder.toMp3(amr)),
  );
  for (const result of results) {
    assert.ok(Math.abs(result.durationSec - 3) <= 0.5);
  }
  const stats = transcoder.stats();
  assert.ok(
    stats.recycled >= 2,
    `expected >= 2 recycled, got ${stats.recycled}`,
  );
  assert.equal(stats.completed, 5);
  assert.equal(stats.failed, 0);
});

Deno.test("jobs beyond maxQueue are refused with 503; queued ones run", async () => {
  await using transcoder = openTranscoder({ maxQueue: 1 });
  const amr = await fixture("speech.amr");
  const running = transcoder.toMp3(amr);
  const queued = transcoder.toMp3(amr);
  await assert.rejects(transcoder.toMp3(amr), transcodeError(503));
  assert.deepEqual(
    [transcoder.stats().busy, transcoder.stats().queued],
    [1, 1],
  );
  await Promise.all([running, queued]);
  assert.equal(transcoder.stats().completed, 2);
});

Deno.test("close() rejects running and queued jobs and later calls", async () => {
  const transcoder = createTranscoder({ workers: 1 });
  const amr = await fixture("speech.amr");
  const jobs = [transcoder.toMp3(amr), transcoder.toMp3(amr)];
  await untilBusy(transcoder);
  await transcoder.close();
  for (const job of jobs) await assert.rejects(job, transcodeError(503));
  await assert.rejects(transcoder.toMp3(amr), transcodeError(503));
  assert.equal(transcoder.stats().workers, 0);
});

Deno.test("createTranscoder refuses nonsense options", () => {
  assert.throws(
    () => createTranscoder({ workers: 0 }),
    /"workers" must be an integer of at least 1, got 0/,
  );
  assert.throws(
    () => createTranscoder({ jobTimeoutMs: 1.5 }),
    /"jobTimeoutMs" must be an integer/,
  );
});
