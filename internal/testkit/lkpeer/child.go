package lkpeer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// RunIfPeer turns the test binary into a participant process when the
// controller started it as one (and then never returns); otherwise it
// returns at once. Call it first thing in TestMain.
func RunIfPeer() {
	if os.Getenv(envFlag) != "1" {
		return
	}
	answers := os.NewFile(answerFD, "answers")
	if answers == nil {
		fmt.Fprintln(os.Stderr, "lkpeer: no answer descriptor")
		os.Exit(2)
	}
	serve(os.Stdin, answers)
	os.Exit(0)
}

// serve answers requests one by one until stdin closes or a leave.
func serve(requests io.Reader, answers io.Writer) {
	p := newParticipant()
	defer p.leave()
	enc := json.NewEncoder(answers)
	scan := bufio.NewScanner(requests)
	scan.Buffer(make([]byte, 64<<10), 1<<20)
	for scan.Scan() {
		var req request
		var ans answer
		if err := json.Unmarshal(scan.Bytes(), &req); err != nil {
			ans.Error = "bad request: " + err.Error()
		} else {
			ans = p.handle(req)
		}
		if err := enc.Encode(ans); err != nil {
			fmt.Fprintln(os.Stderr, "lkpeer: answer:", err)
			return
		}
		if req.Op == opLeave {
			return
		}
	}
}

func (p *participant) handle(req request) answer {
	switch req.Op {
	case opJoin:
		id, err := p.join(req.URL, req.Token)
		return answerOf(answer{Identity: id}, err)
	case opPublish:
		return answerOf(answer{}, p.publish())
	case opStats:
		s := p.stats()
		return answer{Stats: &s}
	case opArrivals:
		return answer{Arrivals: p.arrivalsSince(req.Identity, req.Since)}
	case opLeave:
		p.leave()
		return answer{}
	}
	return answer{Error: fmt.Sprintf("unknown op %q", req.Op)}
}

func answerOf(a answer, err error) answer {
	if err != nil {
		a.Error = err.Error()
	}
	return a
}
