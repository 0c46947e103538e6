// Command go-note-verify checks a signed note with the Go team's own verifier,
// golang.org/x/mod/sumdb/note (Debian package golang-golang-x-mod-dev).
// Used by tests/interop_go.rs: custody's checkpoints must open with it.
//
// Usage: go-note-verify VKEY NOTEFILE   (prints the verified text; exit 1 on failure)
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go-note-verify VKEY NOTEFILE")
		os.Exit(2)
	}
	v, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad vkey:", err)
		os.Exit(2)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note does not verify:", err)
		os.Exit(1)
	}
	fmt.Print(n.Text)
}
