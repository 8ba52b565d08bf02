// Command walkie is the Walkie appservice: push-to-talk floor control for
// Matrix rooms. Everything lives in internal/app; see walkie -h.
package main

import (
	"os"

	"github.com/walkie-ptt/walkie/internal/app"
)

func main() { os.Exit(app.Main(os.Args[1:])) }
