package model

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The scripts in testdata/*.txt drive the step function one step at a time,
// in the style of etcd-io/raft's interaction tests. A script is a list of
// blocks separated by blank lines; a block is a command, optional input
// lines, a "----" line and the expected output. Lines starting with # before
// a block are comments. The output must have no blank line: a blank line
// ends it. `go test ./model -run Script -rewrite` regenerates
// the expected output.
//
// Commands:
//
//	design NAME [workers=W] [conns=C] [acceptors=A] [pipecap=K] [overflow=O]
//	                                  start over; default 2 workers, 3 conns,
//	                                  the design's acceptors, pipe capacity 1,
//	                                  no overflow list
//	accept|dispatch|notify|wake|pop|register|kernel [a=N] [w=N] [n=N] [part=P]
//	                                  take the one enabled step that matches
//	                                  (kernel: a step of no thread's, such as
//	                                  msgring's part=multishot-end)
//	state                             the current state
//	enabled                           every enabled step
//	check                             at quiescence, P4 and P1's "never none"
//	explore                           Explore at the design command's bounds
//	replay [workers=W] [acceptors=A] [maxoutput=B] [finished]
//	                                  replay the input lines, one event each;
//	                                  with maxoutput or finished, CheckTrace too
//	life NAME [bounds=I] [conns=C] [fds=F] [sends=S] [tasks=T] [sendbuf=K]
//	     [maxoutput=B] [echo=E] [reqlen=R] [maxconns=M] [+wake] [+reset]
//	     [+quit] [+idle] [+ctl] [+shut]
//	                                  start over with a lifecycle design, at
//	                                  its I-th table bounds (default 0) and
//	                                  the changes given (-reset and so on
//	                                  turn a switch off)
//	do TEXT                           lifecycle: take the one enabled step
//	                                  whose rendering starts with TEXT
//
// state, enabled, check and explore act on the lifecycle machine after a
// life command (check: P4–P10 at quiescence; explore: ExploreLife).
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt")

type scriptBlock struct {
	pre    []string // comments and blank lines before the block
	cmd    string
	input  []string
	output []string
	line   int
}

func parseScript(text string) (blocks []scriptBlock, tail []string, err error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		b := scriptBlock{pre: pre, cmd: l, line: i + 1}
		pre = nil
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			b.input = append(b.input, lines[i])
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("line %d: %q has no ---- line", b.line, b.cmd)
		}
		for i++; i < len(lines) && lines[i] != ""; i++ {
			b.output = append(b.output, lines[i])
		}
		blocks = append(blocks, b)
	}
	return blocks, pre, nil
}

func TestScript(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			blocks, tail, err := parseScript(string(text))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var sc scriptRun
			var out strings.Builder
			for i, b := range blocks {
				if i > 0 {
					out.WriteString("\n")
				}
				got := sc.run(b.cmd, b.input)
				if !*rewrite && strings.Join(got, "\n") != strings.Join(b.output, "\n") {
					t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, b.line, b.cmd,
						strings.Join(got, "\n"), strings.Join(b.output, "\n"))
				}
				for _, l := range b.pre {
					out.WriteString(l + "\n")
				}
				out.WriteString(b.cmd + "\n")
				for _, l := range b.input {
					out.WriteString(l + "\n")
				}
				out.WriteString("----\n")
				for _, l := range got {
					out.WriteString(l + "\n")
				}
			}
			if len(tail) > 0 {
				out.WriteString("\n" + strings.Join(tail, "\n") + "\n")
			}
			if *rewrite {
				if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// scriptRun is the state of one script: the design's machine and the
// current state.
type scriptRun struct {
	m *Machine
	s State
	// lm and ls are the lifecycle machine and its state, after a life
	// command (m is then nil).
	lm *LifeMachine
	ls LifeState
}

// args splits "k=v" words into a map; a word without "=" is an error.
func args(words []string) (map[string]string, error) {
	kv := map[string]string{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("argument %q is not key=value", w)
		}
		kv[k] = v
	}
	return kv, nil
}

func intArg(kv map[string]string, key string, def int) (int, error) {
	v, ok := kv[key]
	if !ok {
		return def, nil
	}
	delete(kv, key)
	return strconv.Atoi(v)
}

func (sc *scriptRun) run(cmd string, input []string) []string {
	out, err := sc.exec(cmd, input)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return out
}

var stepCommands = map[string]Kind{"accept": Accept, "dispatch": Dispatch, "notify": Notify,
	"wake": Wake, "pop": Pop, "register": Register, "kernel": 0}

func (sc *scriptRun) exec(cmd string, input []string) ([]string, error) {
	f := strings.Fields(cmd)
	switch f[0] {
	case "design":
		sc.lm = nil
		return sc.design(f[1:])
	case "life":
		sc.m = nil
		return sc.life(f[1:])
	}
	if sc.lm != nil {
		return sc.lifeExec(f[0], strings.TrimSpace(strings.TrimPrefix(cmd, f[0])))
	}
	if sc.m == nil {
		return nil, fmt.Errorf("no design yet")
	}
	words := f[1:]
	finished := f[0] == "replay" && slices.Contains(words, "finished")
	words = slices.DeleteFunc(slices.Clone(words), func(w string) bool { return finished && w == "finished" })
	kv, err := args(words)
	if err != nil {
		return nil, err
	}
	if finished {
		kv["finished"] = ""
	}
	switch f[0] {
	case "state":
		return sc.m.Describe(sc.s), nil
	case "enabled":
		var out []string
		for _, t := range sc.m.Steps(sc.s) {
			out = append(out, t.Step.String())
		}
		if out == nil {
			out = []string{"none: quiescent"}
		}
		return out, nil
	case "check":
		if n := len(sc.m.Steps(sc.s)); n > 0 {
			return []string{fmt.Sprintf("not quiescent: %d step(s) enabled", n)}, nil
		}
		if v := checkQuiescent(&sc.s, sc.m.b); v != nil {
			return []string{"quiescent: " + v.Error()}, nil
		}
		return []string{"quiescent: every accepted connection is registered"}, nil
	case "explore":
		return sc.explore()
	case "replay":
		return sc.replay(kv, input)
	}
	kind, ok := stepCommands[f[0]]
	if !ok {
		return nil, fmt.Errorf("unknown command %q", f[0])
	}
	return sc.step(kind, kv)
}

func (sc *scriptRun) design(words []string) ([]string, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("design needs a name")
	}
	d, ok := LookupDesign(words[0])
	if !ok {
		return nil, fmt.Errorf("unknown design %q", words[0])
	}
	kv, err := args(words[1:])
	if err != nil {
		return nil, err
	}
	b := Bounds{Workers: 2, Conns: 3, Acceptors: d.acceptors, PipeCap: 1}
	for key, dst := range map[string]*int{"workers": &b.Workers, "conns": &b.Conns, "acceptors": &b.Acceptors, "pipecap": &b.PipeCap, "overflow": &b.Overflow} {
		if *dst, err = intArg(kv, key, *dst); err != nil {
			return nil, err
		}
	}
	if len(kv) > 0 {
		return nil, fmt.Errorf("unknown arguments %v", kv)
	}
	m, err := NewMachine(d, b)
	if err != nil {
		return nil, err
	}
	sc.m, sc.s = m, m.Initial()
	return append([]string{"bounds " + b.String()}, m.Describe(sc.s)...), nil
}

// step takes the one enabled step of kind that matches kv's a=, w=, n= and
// part= (default: the visible part).
func (sc *scriptRun) step(kind Kind, kv map[string]string) ([]string, error) {
	a, err1 := intArg(kv, "a", -2)
	w, err2 := intArg(kv, "w", -2)
	n, err3 := intArg(kv, "n", -2)
	part := kv["part"]
	delete(kv, "part")
	if err := firstErr(err1, err2, err3); err != nil {
		return nil, err
	}
	if len(kv) > 0 {
		return nil, fmt.Errorf("unknown arguments %v", kv)
	}
	var match []Transition
	var enabled []string
	for _, t := range sc.m.Steps(sc.s) {
		e := t.Step.Event
		enabled = append(enabled, t.Step.String())
		if e.Kind == kind && t.Step.Part == part && (a == -2 || e.Acceptor == a) &&
			(w == -2 || e.Worker == w) && (n == -2 || e.N == n) {
			match = append(match, t)
		}
	}
	switch len(match) {
	case 0:
		return append([]string{"refused; enabled:"}, indent(enabled)...), nil
	case 1:
	default:
		out := []string{"ambiguous; matching:"}
		for _, t := range match {
			out = append(out, "  "+t.Step.String())
		}
		return out, nil
	}
	t := match[0]
	sc.s = t.Next
	out := append([]string{t.Step.String()}, sc.m.Describe(sc.s)...)
	if t.Violation != nil {
		out = append(out, t.Violation.Error())
	}
	return out, nil
}

func (sc *scriptRun) explore() ([]string, error) {
	r, err := Explore(sc.m.d, sc.m.b, Options{})
	if err != nil {
		return nil, err
	}
	out := []string{fmt.Sprintf("states %d, transitions %d", r.States, r.Transitions)}
	if r.Violation == nil {
		return append(out, "all properties hold"), nil
	}
	out = append(out, r.Violation.Error(), fmt.Sprintf("counterexample, %d steps:", len(r.Trace)-1))
	for i, st := range r.Steps() {
		out = append(out, fmt.Sprintf("%3d. %s", i+1, st))
	}
	return out, nil
}

func (sc *scriptRun) replay(kv map[string]string, input []string) ([]string, error) {
	w, err1 := intArg(kv, "workers", sc.m.b.Workers)
	a, err2 := intArg(kv, "acceptors", sc.m.b.Acceptors)
	mo, err3 := intArg(kv, "maxoutput", 0)
	_, finished := kv["finished"]
	delete(kv, "finished")
	if err := firstErr(err1, err2, err3); err != nil {
		return nil, err
	}
	if len(kv) > 0 {
		return nil, fmt.Errorf("unknown arguments %v", kv)
	}
	var trace []Event
	for _, l := range input {
		e, err := ParseEvent(l)
		if err != nil {
			return nil, err
		}
		trace = append(trace, e)
	}
	r, err := ReplayWith(sc.m.d, ReplayConfig{Workers: w, Acceptors: a, MaxOutput: mo}, trace)
	if err != nil {
		return nil, err
	}
	var out []string
	if r.Refused != nil {
		out = append([]string{r.Refused.Error(), "state before it:"}, indent(r.Describe(r.Refused.State))...)
	} else {
		out = append([]string{fmt.Sprintf("accepted all %d events; final state:", r.Accepted)}, indent(r.Describe(r.Final))...)
	}
	if mo > 0 || finished {
		verdict := "CheckTrace: no violation"
		if err := CheckTrace(trace, TraceCheck{Workers: w, MaxOutput: mo, Finished: finished}); err != nil {
			verdict = "CheckTrace: " + err.Error()
		}
		out = append(out, verdict)
	}
	return out, nil
}

// life starts over with a lifecycle design.
func (sc *scriptRun) life(words []string) ([]string, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("life needs a design name")
	}
	d, ok := LookupLifeDesign(words[0])
	if !ok {
		return nil, fmt.Errorf("unknown lifecycle design %q", words[0])
	}
	kv := map[string]string{}
	switches := map[string]bool{}
	for _, w := range words[1:] {
		if w[0] == '+' || w[0] == '-' {
			switches[w[1:]] = w[0] == '+'
			continue
		}
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("argument %q is not key=value, +switch or -switch", w)
		}
		kv[k] = v
	}
	i, err := intArg(kv, "bounds", 0)
	if err != nil {
		return nil, err
	}
	tb := d.TableBounds()
	if i < 0 || i >= len(tb) {
		return nil, fmt.Errorf("bounds=%d: %s has %d", i, d.Name, len(tb))
	}
	b := tb[i]
	for key, dst := range map[string]*int{"conns": &b.Conns, "fds": &b.Fds, "sends": &b.Sends, "tasks": &b.Tasks,
		"sendbuf": &b.SendBuf, "maxoutput": &b.MaxOutput, "echo": &b.Echo, "reqlen": &b.ReqLen, "maxconns": &b.MaxConns} {
		if *dst, err = intArg(kv, key, *dst); err != nil {
			return nil, err
		}
	}
	if len(kv) > 0 {
		return nil, fmt.Errorf("unknown arguments %v", kv)
	}
	flags := map[string]*bool{"wake": &b.Wake, "reset": &b.Reset, "quit": &b.Quit, "idle": &b.Idle, "ctl": &b.CtlFail, "shut": &b.Shutdown}
	for name, on := range switches {
		p, ok := flags[name]
		if !ok {
			return nil, fmt.Errorf("unknown switch %q", name)
		}
		*p = on
	}
	m, err := NewLifeMachine(d, b)
	if err != nil {
		return nil, err
	}
	sc.lm, sc.ls = m, m.Initial()
	return append([]string{"bounds " + b.String()}, m.Describe(sc.ls)...), nil
}

// lifeExec runs a command on the lifecycle machine.
func (sc *scriptRun) lifeExec(cmd, rest string) ([]string, error) {
	switch cmd {
	case "state":
		return sc.lm.Describe(sc.ls), nil
	case "enabled":
		var out []string
		for _, t := range sc.lm.Steps(sc.ls) {
			out = append(out, t.Step.String())
		}
		if out == nil {
			out = []string{"none: quiescent"}
		}
		return out, nil
	case "check":
		if n := len(sc.lm.Steps(sc.ls)); n > 0 {
			return []string{fmt.Sprintf("not quiescent: %d step(s) enabled", n)}, nil
		}
		if v := sc.lm.quiescent(&sc.ls); v != nil {
			return []string{"quiescent: " + v.Error()}, nil
		}
		return []string{"quiescent: P4, P5, P8, P9 and P10 hold"}, nil
	case "explore":
		r, err := ExploreLife(sc.lm.d, sc.lm.b, Options{})
		if cached, ok := lifeResults.Load(sc.lm.d.Name + " " + sc.lm.b.String()); ok {
			r, err = cached.(*LifeResult), nil
		}
		if err != nil {
			return nil, err
		}
		lifeResults.Store(sc.lm.d.Name+" "+sc.lm.b.String(), r)
		out := []string{fmt.Sprintf("states %d, transitions %d", r.States, r.Transitions)}
		if r.Violation == nil {
			return append(out, "all properties hold"), nil
		}
		out = append(out, r.Violation.Error(), fmt.Sprintf("counterexample, %d steps:", len(r.Trace)-1))
		for i, st := range r.Steps() {
			out = append(out, fmt.Sprintf("%3d. %s", i+1, st))
		}
		return out, nil
	case "do":
		var match []LifeTransition
		var enabled []string
		for _, t := range sc.lm.Steps(sc.ls) {
			enabled = append(enabled, t.Step.String())
			if strings.HasPrefix(t.Step.String(), rest) {
				match = append(match, t)
			}
		}
		switch len(match) {
		case 0:
			return append([]string{"refused; enabled:"}, indent(enabled)...), nil
		case 1:
		default:
			out := []string{"ambiguous; matching:"}
			for _, t := range match {
				out = append(out, "  "+t.Step.String())
			}
			return out, nil
		}
		t := match[0]
		sc.ls = t.Next
		out := []string{t.Step.String()}
		for _, e := range t.Events {
			if e != t.Step.Event {
				out = append(out, "  traces "+e.String())
			}
		}
		out = append(out, sc.lm.Describe(sc.ls)...)
		if t.Violation != nil {
			out = append(out, t.Violation.Error())
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown lifecycle command %q", cmd)
}

func indent(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = "  " + s
	}
	return out
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
