package lkpeer

import "time"

// The controller and the participant process exchange one JSON object a
// line: requests on the process's stdin, answers on its file descriptor 3.

// envFlag makes a test binary a participant process (RunIfPeer).
const envFlag = "WALKIE_LKPEER"

// answerFD is the participant process's descriptor for answers.
const answerFD = 3

// Request operations.
const (
	opJoin    = "join"
	opPublish = "publish"
	opStats   = "stats"
	// opArrivals asks for one publisher's packets received after a time.
	opArrivals = "arrivals"
	opLeave    = "leave"
)

type request struct {
	Op    string `json:"op"`
	URL   string `json:"url,omitempty"`
	Token string `json:"token,omitempty"`
	// Identity and Since: opArrivals's publisher and time.
	Identity string    `json:"identity,omitempty"`
	Since    time.Time `json:"since,omitzero"`
}

type answer struct {
	Error    string    `json:"error,omitempty"`
	Identity string    `json:"identity,omitempty"`
	Stats    *Stats    `json:"stats,omitempty"`
	Arrivals []Arrival `json:"arrivals,omitempty"`
}

// Stats is what a participant has seen and done so far.
type Stats struct {
	// Identity is the participant's LiveKit identity (after Join).
	Identity string `json:"identity"`
	// CanPublish is the publish permission the server last told it.
	CanPublish bool `json:"can_publish"`
	// Written counts frames written into any track it created; Bound those
	// written while the track was bound to a negotiated sender, i.e. sent
	// to the server as RTP.
	Written uint64 `json:"written"`
	Bound   uint64 `json:"bound"`
	// Attempts counts publish requests sent; Refused those that timed out
	// unanswered; Publications those the server confirmed.
	Attempts     int `json:"attempts"`
	Refused      int `json:"refused"`
	Publications int `json:"publications"`
	// Publishing: a confirmed publication is live now; LiveSID is its
	// track's SID.
	Publishing bool   `json:"publishing"`
	LiveSID    string `json:"live_sid,omitempty"`
	// WrittenOn counts the frames written into each track the server
	// confirmed, by SID, before and after it was unpublished.
	WrittenOn map[string]uint64 `json:"written_on"`
	// Received counts the RTP packets received per publisher identity;
	// LastSent is the latest send time their markers carried (a packet
	// can still arrive after its track ended at the listener, if it was
	// sent before); Subscribed counts the tracks of each publisher
	// subscribed to right now.
	Received   map[string]uint64    `json:"received"`
	LastSent   map[string]time.Time `json:"last_sent"`
	Subscribed map[string]int       `json:"subscribed"`
	// Unsubscribed is when each publisher's track last ended here;
	// Unpublished when the server last unpublished one of this
	// participant's own tracks (zero: never).
	Unsubscribed map[string]time.Time `json:"unsubscribed"`
	Unpublished  time.Time            `json:"unpublished"`
}
