package browser

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"
)

// SampleRate is the fake microphone's rate: the rate the web client records
// at, so Chromium has nothing to resample.
const SampleRate = 48000

// Tone describes the fake microphone's sound: bursts of a sine wave
// separated by silence, repeated. A burst's onset is a sharp, unmistakable
// event, so a test can prove that audio crossed from one browser to another
// and a benchmark can time it (onset at the speaker's capture, onset at the
// listener's playback). Chromium plays the file in a loop.
type Tone struct {
	Hz        float64       // sine frequency; 1000 when 0
	On        time.Duration // burst length; 500 ms when 0
	Off       time.Duration // silence after each burst; 1500 ms when 0
	Amplitude float64       // peak, 0..1; 0.5 when 0
	Periods   int           // bursts (with their silences) in the file; 1 when 0
}

// DefaultTone is a 1 kHz burst of 0.5 s every 2 s.
var DefaultTone = Tone{}

// withDefaults fills the zero fields.
func (t Tone) withDefaults() Tone {
	if t.Hz == 0 {
		t.Hz = 1000
	}
	if t.On == 0 {
		t.On = 500 * time.Millisecond
	}
	if t.Off == 0 {
		t.Off = 1500 * time.Millisecond
	}
	if t.Amplitude == 0 {
		t.Amplitude = 0.5
	}
	if t.Periods == 0 {
		t.Periods = 1
	}
	return t
}

// rampSamples soften each burst's edges (2.5 ms raised cosine): a hard edge
// is a click whose broadband energy could trip a detector tuned elsewhere.
const rampSamples = SampleRate / 400

// Samples renders the tone as 16-bit PCM at SampleRate.
func (t Tone) Samples() []int16 {
	t = t.withDefaults()
	on := int(t.On.Seconds() * SampleRate)
	period := on + int(t.Off.Seconds()*SampleRate)
	out := make([]int16, period*t.Periods)
	for p := range t.Periods {
		burst := out[p*period : p*period+on]
		for i := range burst {
			gain := t.Amplitude
			if edge := min(i, on-1-i); edge < rampSamples {
				gain *= 0.5 - 0.5*math.Cos(math.Pi*float64(edge)/rampSamples)
			}
			burst[i] = int16(math.Round(gain * math.MaxInt16 * math.Sin(2*math.Pi*t.Hz*float64(i)/SampleRate)))
		}
	}
	return out
}

// WAV is the tone as a RIFF WAVE file: PCM, 48 kHz, mono, 16-bit.
func (t Tone) WAV() []byte {
	samples := t.Samples()
	data := 2 * len(samples)
	var b bytes.Buffer
	b.Grow(44 + data)
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+data))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, struct {
		Size                      uint32
		Format, Channels          uint16
		Rate, ByteRate            uint32
		BlockAlign, BitsPerSample uint16
	}{16, 1, 1, SampleRate, SampleRate * 2, 2, 16})
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(data))
	_ = binary.Write(&b, le, samples)
	return b.Bytes()
}

// WriteFile writes the tone's WAV to path.
func (t Tone) WriteFile(path string) error {
	if err := os.WriteFile(path, t.WAV(), 0o644); err != nil {
		return fmt.Errorf("write the fake microphone's WAV: %w", err)
	}
	return nil
}
