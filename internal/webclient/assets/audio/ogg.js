// Ogg Opus files (RFC 7845) from Opus packets: the container Element's
// voice broadcasts and every Matrix client expect, which Chromium's
// MediaRecorder cannot write. Each call makes one complete, standalone
// file: ID header page, comment header page, then audio pages, the last one
// flagged end-of-stream.

const SAMPLE_RATE = 48000;

// CRC-32 as Ogg defines it: polynomial 0x04c11db7, MSB first, initial value
// 0, no final XOR (not the zlib CRC).
const CRC_TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let r = i << 24;
  for (let b = 0; b < 8; b++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  CRC_TABLE[i] = r >>> 0;
}

export function crc32(bytes) {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]) >>> 0;
  return crc;
}

// opusHead is the identification header: mono or stereo, 48 kHz input,
// no gain, channel mapping family 0.
export function opusHead(channels, preSkip) {
  const h = new Uint8Array(19);
  const v = new DataView(h.buffer);
  h.set(ascii('OpusHead'));
  h[8] = 1; // version
  h[9] = channels;
  v.setUint16(10, preSkip, true);
  v.setUint32(12, SAMPLE_RATE, true);
  return h;
}

// opusTags is the comment header: a vendor string and no comments.
export function opusTags(vendor) {
  const name = ascii(vendor);
  const t = new Uint8Array(8 + 4 + name.length + 4);
  const v = new DataView(t.buffer);
  t.set(ascii('OpusTags'));
  v.setUint32(8, name.length, true);
  t.set(name, 12);
  return t;
}

// page builds one Ogg page holding whole packets (none continued: an Opus
// packet is at most 1275 bytes, and callers keep a page under 255 lacing
// values). granule is a BigInt-free Number: files here are short.
function page(packets, { serial, sequence, granule, flags }) {
  const lacing = [];
  for (const p of packets) {
    let n = p.length;
    for (; n >= 255; n -= 255) lacing.push(255);
    lacing.push(n); // a final value < 255 ends the packet (0 if it was a multiple)
  }
  const size = packets.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(27 + lacing.length + size);
  const v = new DataView(out.buffer);
  out.set(ascii('OggS'));
  out[5] = flags; // 0x02 first page, 0x04 last page
  v.setUint32(6, granule % 0x100000000, true);
  v.setUint32(10, Math.floor(granule / 0x100000000), true);
  v.setUint32(14, serial, true);
  v.setUint32(18, sequence, true);
  out[26] = lacing.length;
  out.set(lacing, 27);
  let at = 27 + lacing.length;
  for (const p of packets) {
    out.set(p, at);
    at += p.length;
  }
  v.setUint32(22, crc32(out), true); // computed with the CRC field zero
  return out;
}

// lacingCount is how many lacing values a packet takes.
const lacingCount = (p) => Math.floor(p.length / 255) + 1;

// oggOpus returns the pages of one Ogg Opus file (a list of Uint8Array,
// ready for new Blob()).
//   packets: [{ data: Uint8Array, samples: 48 kHz samples it decodes to }]
//   preSkip: samples to drop at the start (encoder delay, or packets
//            repeated only to prime the decoder)
//   endGranule: the last page's granule position when the end must be
//            trimmed (the stream's final packet was padded); by default the
//            sum of the packets' samples
export function oggOpus({ packets, preSkip, channels = 1, serial, endGranule, vendor = 'walkie' }) {
  const pages = [];
  let sequence = 0;
  const add = (list, granule, flags) =>
    pages.push(page(list, { serial, sequence: sequence++, granule, flags }));
  add([opusHead(channels, preSkip)], 0, 0x02);
  add([opusTags(vendor)], 0, 0);
  let granule = 0;
  let list = [];
  let laced = 0;
  packets.forEach((p, i) => {
    if (laced + lacingCount(p.data) > 255) {
      add(list, granule, 0);
      list = [];
      laced = 0;
    }
    list.push(p.data);
    laced += lacingCount(p.data);
    granule += p.samples;
    if (i === packets.length - 1) add(list, endGranule ?? granule, 0x04);
  });
  return pages;
}

function ascii(s) {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
