package lkpeer

import (
	"bytes"
	"encoding/binary"
	"time"
)

// frameDuration is the length of one Opus frame, and how often one is written.
const frameDuration = 20 * time.Millisecond

// markerMagic starts the marker in a frame's padding.
var markerMagic = []byte("WKPT")

// markerLen: the magic, a sequence number, the send time in Unix nanoseconds.
const markerLen = 4 + 8 + 8

// silenceFrame builds one Opus packet (RFC 6716 section 3.2.5, code 3): a
// single 20 ms CELT silence frame (0xFF 0xFE, the frame of the well-known
// packet F8 FF FE) followed by padding that carries the marker. Decoders
// ignore padding, so the packet plays as silence.
func silenceFrame(seq uint64, sent time.Time) []byte {
	const (
		toc        = 0xF8 | 0x03 // config 31 (CELT fullband 20 ms), mono, code 3
		frameCount = 0x40 | 0x01 // padding flag, CBR, one frame
	)
	b := []byte{toc, frameCount, markerLen, 0xFF, 0xFE}
	b = append(b, markerMagic...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(sent.UnixNano()))
	return b
}

// readMarker returns the sequence number and send time a frame's padding
// carries, if it has a marker. It looks for the magic anywhere, since an
// SFU may wrap the payload (Opus RED keeps the primary frame last).
func readMarker(payload []byte) (seq uint64, sent time.Time, ok bool) {
	i := bytes.LastIndex(payload, markerMagic)
	if i < 0 || len(payload)-i < markerLen {
		return 0, time.Time{}, false
	}
	m := payload[i+len(markerMagic):]
	seq = binary.BigEndian.Uint64(m)
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(m[8:])))
	return seq, sent, true
}
