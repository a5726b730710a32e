// brainchop's own TF.js inference, as a reference for Meshfed's parity check.
//
//   node tests/brainchop/reference.mjs MODEL_DIR INPUT.nii[.gz] OUTPUT.nii.gz [--pad N] [--box x0,y0,z0,x1,y1,z1]
//
// Runs a brainchop TF.js layers model (model.json + shards) with @tensorflow/tfjs on its
// pure-JS CPU backend, with brainchop's preprocessing (brainchop-parameters.js entry 1 and
// inference-logic.js): min-max normalise the whole volume to [0, 1]; mask = value > 0; crop
// to the mask's bounding box padded by 18 voxels; tensor axes [1, i, j, k, 1] channels-last
// with i the NIfTI x axis; apply the layers; argmax over classes; zeros outside the crop.
// Writes uint8 labels as NIfTI-1 with the input's header. `--box` overrides the crop box
// (half-open voxel ranges) to run a quick check on part of the volume.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import * as tf from "@tensorflow/tfjs";

const [modelDir, inputPath, outputPath, ...rest] = process.argv.slice(2);
if (!outputPath) {
  console.error("usage: reference.mjs MODEL_DIR INPUT.nii[.gz] OUTPUT.nii.gz [--pad N] [--box x0,y0,z0,x1,y1,z1]");
  process.exit(2);
}
const opt = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const pad = Number(opt("--pad") ?? 18);

function readNifti(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getInt32(0, true) !== 348) throw new Error(`${file}: not a little-endian NIfTI-1 file`);
  const dims = [1, 2, 3].map((i) => view.getInt16(40 + 2 * i, true));
  const datatype = view.getInt16(70, true);
  const voxOffset = view.getFloat32(108, true);
  const slope = view.getFloat32(112, true) || 1;
  const inter = view.getFloat32(116, true);
  const n = dims[0] * dims[1] * dims[2];
  const readers = {
    2: [1, (o) => view.getUint8(o)],
    4: [2, (o) => view.getInt16(o, true)],
    8: [4, (o) => view.getInt32(o, true)],
    16: [4, (o) => view.getFloat32(o, true)],
    64: [8, (o) => view.getFloat64(o, true)],
    512: [2, (o) => view.getUint16(o, true)],
  };
  const reader = readers[datatype];
  if (!reader) throw new Error(`${file}: NIfTI datatype ${datatype} is not supported here`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = reader[1](voxOffset + i * reader[0]) * slope + inter;
  return { dims, data, header: buf.subarray(0, 348) };
}

function writeLabels(file, header, dims, labels) {
  const out = Buffer.alloc(352 + labels.length);
  header.copy(out, 0, 0, 348);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setInt16(70, 2, true); // uint8
  view.setInt16(72, 8, true);
  view.setFloat32(108, 352, true);
  view.setFloat32(112, 1, true);
  view.setFloat32(116, 0, true);
  Buffer.from(labels.buffer).copy(out, 352);
  fs.writeFileSync(file, file.endsWith(".gz") ? zlib.gzipSync(out) : out);
}

function loadModel(dir) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
  const specs = [];
  const shards = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

const started = Date.now();
const { dims, data, header } = readNifti(inputPath);
const [X, Y, Z] = dims;
let lo = Infinity;
let hi = -Infinity;
for (const v of data) {
  if (v < lo) lo = v;
  if (v > hi) hi = v;
}
const range = hi - lo;
for (let i = 0; i < data.length; i++) data[i] = range > 0 ? (data[i] - lo) / range : 0;
const at = (x, y, z) => data[x + X * (y + Y * z)]; // NIfTI order: x fastest

let box;
if (opt("--box")) {
  const b = opt("--box").split(",").map(Number);
  box = { lo: b.slice(0, 3), hi: b.slice(3, 6) };
} else {
  const bl = [X, Y, Z];
  const bh = [0, 0, 0];
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++)
        if (at(x, y, z) > 0) {
          [x, y, z].forEach((v, a) => {
            bl[a] = Math.min(bl[a], v);
            bh[a] = Math.max(bh[a], v + 1);
          });
        }
  box = { lo: bl.map((v) => Math.max(0, v - pad)), hi: bh.map((v, a) => Math.min(dims[a], v + pad)) };
}
const [dx, dy, dz] = [0, 1, 2].map((a) => box.hi[a] - box.lo[a]);
const cropped = new Float32Array(dx * dy * dz);
for (let x = 0; x < dx; x++)
  for (let y = 0; y < dy; y++)
    for (let z = 0; z < dz; z++) cropped[(x * dy + y) * dz + z] = at(x + box.lo[0], y + box.lo[1], z + box.lo[2]);

await tf.setBackend("cpu");
const model = await loadModel(modelDir);
console.error(`[reference] tfjs ${tf.version.tfjs} backend ${tf.getBackend()}; crop ${JSON.stringify(box)} = ${dx}x${dy}x${dz}`);
const forwardStart = Date.now();
let x = tf.tensor5d(cropped, [1, dx, dy, dz, 1]);
for (const layer of model.layers.slice(1)) {
  const next = layer.apply(x);
  x.dispose();
  x = next;
}
const classes = x.argMax(-1);
const inside = classes.dataSync();
const forwardSeconds = (Date.now() - forwardStart) / 1000;

const labels = new Uint8Array(X * Y * Z);
for (let i = 0; i < dx; i++)
  for (let j = 0; j < dy; j++)
    for (let k = 0; k < dz; k++)
      labels[i + box.lo[0] + X * (j + box.lo[1] + Y * (k + box.lo[2]))] = inside[(i * dy + j) * dz + k];
writeLabels(outputPath, header, dims, labels);
const counts = [0, 0, 0, 0, 0, 0, 0, 0].map((_, c) => labels.filter((l) => l === c).length).filter((n, c) => c < 3 || n > 0);
console.log(
  JSON.stringify({ output: outputPath, dims, box, forward_seconds: forwardSeconds, total_seconds: (Date.now() - started) / 1000, voxels_per_class: counts }),
);
