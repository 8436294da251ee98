package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var b64 = base64.StdEncoding

func hash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := b64.DecodeString(s)
	if err != nil {
		return h, err
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("a hash of %d bytes", len(b))
	}
	copy(h[:], b)
	return h, nil
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := []tlog.Hash{}
	for _, s := range list {
		h, err := hash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// tlog.ParseTree knows only the Go checksum database's origin: split the checkpoint here.
func checkpoint(text string) (string, int64, tlog.Hash, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return "", 0, tlog.Hash{}, fmt.Errorf("not a checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", 0, tlog.Hash{}, err
	}
	root, err := hash(lines[2])
	return lines[0], size, root, err
}

func open(vkey string, msg []byte) (string, int64, tlog.Hash, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", 0, tlog.Hash{}, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return "", 0, tlog.Hash{}, err
	}
	return checkpoint(n.Text)
}

func number(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func run(f []string) (string, error) {
	switch f[0] {
	case "note": // note <vkey> <base64 note>
		msg, err := b64.DecodeString(f[2])
		if err != nil {
			return "", err
		}
		origin, size, root, err := open(f[1], msg)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %d %s", origin, size, b64.EncodeToString(root[:])), nil
	case "record": // record <tree size> <root> <index> <base64 leaf> <proof hash>...
		t, err1 := number(f[1])
		th, err2 := hash(f[2])
		n, err3 := number(f[3])
		leaf, err4 := b64.DecodeString(f[4])
		p, err5 := hashes(f[5:])
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				return "", err
			}
		}
		return "record", tlog.CheckRecord(tlog.RecordProof(p), t, th, n, tlog.RecordHash(leaf))
	case "tree": // tree <new size> <new root> <old size> <old root> <proof hash>...
		t, err1 := number(f[1])
		th, err2 := hash(f[2])
		n, err3 := number(f[3])
		h, err4 := hash(f[4])
		p, err5 := hashes(f[5:])
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				return "", err
			}
		}
		return "tree", tlog.CheckTree(tlog.TreeProof(p), t, th, n, h)
	case "bundle": // bundle <vkey> <base64 c2sp.org/tlog-proof@v1>
		b, err := b64.DecodeString(f[2])
		if err != nil {
			return "", err
		}
		i := bytes.Index(b, []byte("\n\n"))
		if i < 0 {
			return "", fmt.Errorf("no blank line")
		}
		head := strings.Split(string(b[:i]), "\n")
		if head[0] != "c2sp.org/tlog-proof@v1" || len(head) < 2 {
			return "", fmt.Errorf("not a tlog-proof@v1")
		}
		k := 1
		var extra []byte
		if strings.HasPrefix(head[k], "extra ") {
			if extra, err = b64.DecodeString(head[k][6:]); err != nil {
				return "", err
			}
			k++
		}
		if !strings.HasPrefix(head[k], "index ") {
			return "", fmt.Errorf("no index line")
		}
		index, err := number(head[k][6:])
		if err != nil {
			return "", err
		}
		p, err := hashes(head[k+1:])
		if err != nil {
			return "", err
		}
		origin, size, root, err := open(f[1], b[i+2:])
		if err != nil {
			return "", err
		}
		if err := tlog.CheckRecord(tlog.RecordProof(p), size, root, index, tlog.RecordHash(extra)); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %d %d", origin, size, index), nil
	case "sign": // sign <signer key file> <base64 text>
		skey, err := os.ReadFile(f[1])
		if err != nil {
			return "", err
		}
		signer, err := note.NewSigner(strings.TrimSuffix(string(skey), "\n"))
		if err != nil {
			return "", err
		}
		text, err := b64.DecodeString(f[2])
		if err != nil {
			return "", err
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			return "", err
		}
		return b64.EncodeToString(msg), nil
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		out, err := run(strings.Fields(in.Text()))
		if err != nil {
			fmt.Printf("fail %v\n", err)
		} else {
			fmt.Printf("ok %s\n", out)
		}
	}
}
