package browser

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestToneWAVIsPCM48kMono16BitWithBurstsWhereAsked(t *testing.T) {
	tone := Tone{Hz: 1000, On: 250 * time.Millisecond, Off: 750 * time.Millisecond, Amplitude: 0.5, Periods: 2}
	path := filepath.Join(t.TempDir(), "mic.wav")
	if err := tone.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	header := map[string]uint32{
		"RIFF size": le.Uint32(raw[4:]), "fmt size": le.Uint32(raw[16:]),
		"format": uint32(le.Uint16(raw[20:])), "channels": uint32(le.Uint16(raw[22:])),
		"rate": le.Uint32(raw[24:]), "byte rate": le.Uint32(raw[28:]),
		"block align": uint32(le.Uint16(raw[32:])), "bits": uint32(le.Uint16(raw[34:])),
		"data size": le.Uint32(raw[40:]),
	}
	const samples = 2 * SampleRate // two periods of one second
	want := map[string]uint32{
		"RIFF size": 36 + 2*samples, "fmt size": 16, "format": 1, "channels": 1, "rate": 48000,
		"byte rate": 96000, "block align": 2, "bits": 16, "data size": 2 * samples,
	}
	if string(raw[0:4]) != "RIFF" || string(raw[8:16]) != "WAVEfmt " || string(raw[36:40]) != "data" {
		t.Fatalf("chunk tags: %q %q %q", raw[0:4], raw[8:16], raw[36:40])
	}
	for k, v := range want {
		if header[k] != v {
			t.Errorf("%s = %d, want %d", k, header[k], v)
		}
	}
	if len(raw) != 44+2*samples {
		t.Fatalf("file is %d bytes, want %d", len(raw), 44+2*samples)
	}
	pcm := make([]int16, samples)
	for i := range pcm {
		pcm[i] = int16(le.Uint16(raw[44+2*i:]))
	}
	for p, start := range []int{0, SampleRate} {
		burst, silence := pcm[start:start+SampleRate/4], pcm[start+SampleRate/4:start+SampleRate]
		if peak := peakOf(burst); math.Abs(float64(peak)/math.MaxInt16-0.5) > 0.01 {
			t.Errorf("period %d: burst peak %d, want half scale", p, peak)
		}
		// 250 ms of 1 kHz: 250 cycles, two zero crossings each.
		if n := crossings(burst); n < 498 || n > 501 {
			t.Errorf("period %d: %d zero crossings in the burst, want about 500 (1 kHz)", p, n)
		}
		if peak := peakOf(silence); peak != 0 {
			t.Errorf("period %d: silence reaches %d", p, peak)
		}
	}
}

func TestToneDefaultsAreOneKilohertzHalfASecondEveryTwo(t *testing.T) {
	got := DefaultTone.withDefaults()
	want := Tone{Hz: 1000, On: 500 * time.Millisecond, Off: 1500 * time.Millisecond, Amplitude: 0.5, Periods: 1}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	if n := len(DefaultTone.Samples()); n != 2*SampleRate {
		t.Fatalf("%d samples, want %d", n, 2*SampleRate)
	}
}

func peakOf(s []int16) int16 {
	var peak int16
	for _, v := range s {
		peak = max(peak, v, -v)
	}
	return peak
}

func crossings(s []int16) int {
	n := 0
	for i := 1; i < len(s); i++ {
		if (s[i-1] < 0) != (s[i] < 0) {
			n++
		}
	}
	return n
}
