package audiotest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// oggPage is one parsed Ogg page.
type oggPage struct {
	flags    byte
	granule  uint64
	serial   uint32
	sequence uint32
	packets  [][]byte // whole packets; these files never continue one across pages
}

// opusFile is a parsed Ogg Opus file: its headers and audio packets.
type opusFile struct {
	pages             []oggPage
	version, channels byte
	preSkip           int
	rate              uint32
	mapping           byte
	vendor            string
	audio             [][]byte
	granule           uint64 // of the last page
	packetSamples     []int  // each audio packet's decoded length
}

// crcTable is Ogg's CRC-32: polynomial 0x04c11db7, MSB first, no
// reflection, initial value 0, no final XOR.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, x := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^x]
	}
	return crc
}

// parseOgg checks every page (capture pattern, version, CRC, one serial,
// consecutive sequence numbers, begin and end flags, no packet continued
// across pages) and returns the pages.
func parseOgg(data []byte) ([]oggPage, error) {
	var pages []oggPage
	le := binary.LittleEndian
	for len(data) > 0 {
		if len(data) < 27 || string(data[:4]) != "OggS" {
			return nil, fmt.Errorf("page %d: no OggS capture pattern", len(pages))
		}
		if data[4] != 0 {
			return nil, fmt.Errorf("page %d: stream structure version %d", len(pages), data[4])
		}
		nseg := int(data[26])
		if len(data) < 27+nseg {
			return nil, fmt.Errorf("page %d: truncated lacing", len(pages))
		}
		lacing := data[27 : 27+nseg]
		size := 0
		for _, l := range lacing {
			size += int(l)
		}
		end := 27 + nseg + size
		if len(data) < end {
			return nil, fmt.Errorf("page %d: truncated body", len(pages))
		}
		raw := bytes.Clone(data[:end])
		want := le.Uint32(raw[22:])
		raw[22], raw[23], raw[24], raw[25] = 0, 0, 0, 0
		if got := oggCRC(raw); got != want {
			return nil, fmt.Errorf("page %d: CRC %08x, the page says %08x", len(pages), got, want)
		}
		p := oggPage{flags: data[5], granule: le.Uint64(data[6:]), serial: le.Uint32(data[14:]), sequence: le.Uint32(data[18:])}
		if p.flags&0x01 != 0 {
			return nil, fmt.Errorf("page %d continues a packet", len(pages))
		}
		body := data[27+nseg : end]
		start := 0
		for i, l := range lacing {
			if l < 255 {
				n := 0
				for _, x := range lacing[start : i+1] {
					n += int(x)
				}
				p.packets = append(p.packets, body[:n])
				body = body[n:]
				start = i + 1
			}
		}
		if start != len(lacing) {
			return nil, fmt.Errorf("page %d: its last packet continues on the next page", len(pages))
		}
		if len(pages) > 0 && (p.serial != pages[0].serial || p.sequence != pages[len(pages)-1].sequence+1) {
			return nil, fmt.Errorf("page %d: serial %d sequence %d after serial %d sequence %d",
				len(pages), p.serial, p.sequence, pages[0].serial, pages[len(pages)-1].sequence)
		}
		pages = append(pages, p)
		data = data[end:]
	}
	if len(pages) < 3 {
		return nil, fmt.Errorf("%d pages: an Ogg Opus file needs two header pages and audio", len(pages))
	}
	for i, p := range pages {
		if bos := p.flags&0x02 != 0; bos != (i == 0) {
			return nil, fmt.Errorf("page %d: beginning-of-stream flag %v", i, bos)
		}
		if eos := p.flags&0x04 != 0; eos != (i == len(pages)-1) {
			return nil, fmt.Errorf("page %d: end-of-stream flag %v", i, eos)
		}
	}
	return pages, nil
}

// parseOpus checks an Ogg Opus file as RFC 7845 asks: the ID header alone
// on the first page, the comment header on the second, granule positions
// of 0 there and never decreasing after, and each audio page's granule
// position the running sum of its packets' samples, except that the last
// may trim the end by less than a packet.
func parseOpus(data []byte) (*opusFile, error) {
	pages, err := parseOgg(data)
	if err != nil {
		return nil, err
	}
	f := &opusFile{pages: pages}
	head, tags := pages[0].packets, pages[1].packets
	if len(head) != 1 || len(head[0]) != 19 || string(head[0][:8]) != "OpusHead" {
		return nil, errors.New("first page: not one 19-byte OpusHead")
	}
	h := head[0]
	f.version, f.channels, f.preSkip = h[8], h[9], int(binary.LittleEndian.Uint16(h[10:]))
	f.rate, f.mapping = binary.LittleEndian.Uint32(h[12:]), h[18]
	if binary.LittleEndian.Uint16(h[16:]) != 0 {
		return nil, errors.New("OpusHead: output gain is not 0")
	}
	if len(tags) != 1 || len(tags[0]) < 16 || string(tags[0][:8]) != "OpusTags" {
		return nil, errors.New("second page: not one OpusTags")
	}
	n := int(binary.LittleEndian.Uint32(tags[0][8:]))
	if 12+n+4 > len(tags[0]) {
		return nil, errors.New("OpusTags: vendor string overruns")
	}
	f.vendor = string(tags[0][12 : 12+n])
	if pages[0].granule != 0 || pages[1].granule != 0 {
		return nil, errors.New("header pages: granule position not 0")
	}
	var sum uint64
	for i, p := range pages[2:] {
		for _, pkt := range p.packets {
			s, err := opusSamples(pkt)
			if err != nil {
				return nil, fmt.Errorf("page %d: %w", i+2, err)
			}
			f.audio = append(f.audio, pkt)
			f.packetSamples = append(f.packetSamples, s)
			sum += uint64(s)
		}
		last := i == len(pages)-3
		switch {
		case !last && p.granule != sum:
			return nil, fmt.Errorf("page %d: granule position %d, its packets end at %d", i+2, p.granule, sum)
		case last && (p.granule > sum || sum-p.granule >= uint64(f.packetSamples[len(f.packetSamples)-1])):
			return nil, fmt.Errorf("last page: granule position %d for packets ending at %d", p.granule, sum)
		}
	}
	f.granule = pages[len(pages)-1].granule
	if f.granule < uint64(f.preSkip) {
		return nil, fmt.Errorf("granule position %d below pre-skip %d", f.granule, f.preSkip)
	}
	return f, nil
}

// samples is the file's decoded length: granule position less pre-skip.
func (f *opusFile) samples() int { return int(f.granule) - f.preSkip }

// opusSamples is how many 48 kHz samples an Opus packet decodes to, from
// its TOC byte (RFC 6716 section 3.1).
func opusSamples(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errors.New("empty Opus packet")
	}
	config := int(p[0] >> 3)
	var frame int // in 1/400 s (2.5 ms)
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{4, 8, 16, 24}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		frame = []int{4, 8}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{1, 2, 4, 8}[config%4]
	}
	frames := 1
	switch p[0] & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 {
			return 0, errors.New("code 3 Opus packet without a frame count")
		}
		frames = int(p[1] & 0x3f)
	}
	return frames * frame * 120, nil
}
