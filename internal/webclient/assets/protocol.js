// The floor protocol's names (docs/protocol.md), in one place.

export const FLOOR = 'org.matrix.msc4002.floor';
export const PERMIT = 'org.matrix.msc4002.talk_permit';
export const REQUEST = 'org.matrix.msc4002.talk_request';
export const RESPONSE = 'org.matrix.msc4002.talk_response';
export const TERM_KEY = 'org.matrix.msc4002.term';
export const ELEMENT_CHUNK_KEY = 'io.element.voice_broadcast_chunk';

// Broadcast dialects: the info state type and the chunk event type. The
// Element one (chunks are m.room.message) is what rooms default to.
export const DIALECTS = [
  { info: 'io.element.voice_broadcast_info', chunk: 'm.room.message' },
  { info: 'org.matrix.msc3888.voice_broadcast_info', chunk: 'org.matrix.msc3888.voice_broadcast_chunk' },
  { info: 'm.voice_broadcast_info', chunk: 'm.voice_broadcast_chunk' },
];
export const INFO_TYPES = DIALECTS.map((d) => d.info);

export const permitKey = (userId, deviceId) => `_${userId}_${deviceId}`;

export const sameDevice = (d, userId, deviceId) => !!d && d.user_id === userId && d.device_id === deviceId;

// referenced is the event ID an m.reference relation points at.
export function referenced(content) {
  const rel = content && content['m.relates_to'];
  return rel && rel.rel_type === 'm.reference' ? rel.event_id : undefined;
}

// chunkInfo reads a voice broadcast chunk in any dialect, or null.
export function chunkInfo(ev) {
  const c = ev.content || {};
  const started = referenced(c);
  if (!started) return null;
  let sequence;
  if (ev.type === 'm.room.message') sequence = c[ELEMENT_CHUNK_KEY]?.sequence;
  else if (DIALECTS.some((d) => d.chunk === ev.type)) sequence = c.sequence ?? c[ELEMENT_CHUNK_KEY]?.sequence;
  if (!Number.isInteger(sequence) || sequence < 1) return null;
  const url = c.url || c['org.matrix.msc1767.file']?.url;
  const durationMs = c.info?.duration ?? c['org.matrix.msc1767.audio']?.duration ?? 0;
  return { started, sequence, url, durationMs, sender: ev.sender, eventId: ev.event_id, ts: ev.origin_server_ts };
}

// chunkContent is Element's chunk shape: an m.audio voice message that
// old clients can play on its own, plus the broadcast's sequence number.
export function chunkContent(dialect, { url, sizeBytes, durationMs: exact, sequence, started }) {
  const durationMs = Math.round(exact); // canonical JSON has integers only
  const content = {
    msgtype: 'm.audio',
    body: 'Voice message',
    url,
    info: { mimetype: 'audio/ogg', size: sizeBytes, duration: durationMs },
    'org.matrix.msc1767.text': 'Voice message',
    'org.matrix.msc1767.file': { url, name: 'Voice message.ogg', mimetype: 'audio/ogg', size: sizeBytes },
    'org.matrix.msc1767.audio': { duration: durationMs, waveform: [] },
    'org.matrix.msc3245.voice': {},
    [ELEMENT_CHUNK_KEY]: { sequence },
    'm.relates_to': { rel_type: 'm.reference', event_id: started },
  };
  if (dialect.chunk !== 'm.room.message') content.sequence = sequence;
  return content;
}
