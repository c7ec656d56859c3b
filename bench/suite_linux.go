package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// suiteConfig is the side-by-side comparison: the servers, the load of each
// mode and how often to repeat it.
type suiteConfig struct {
	servers serverList
	rounds  int
	conn    load
	req     load
	idle    load
	// gobench are `go test -bench DispatchLatency` outputs whose p99-ns
	// figures are reported per notify x wake-up combination, one per
	// revision of the tree the servers were built at.
	gobench gobenchList
	jsonOut string
	svgOut  string
	logDir  string
	// quietMax is the most other work, as a share of the machine, a run may
	// see and count; a run that saw more is made again, up to retries
	// times.
	quietMax float64
	retries  int
}

// serverSpec is one server of the comparison: "name=command args", the
// command's "{port}" replaced by a free port. "name@conn+req=..." limits it
// to those modes (a stand-in that cannot answer every request); names.go
// says what else a name may carry.
type serverSpec struct {
	Name  string
	Args  []string
	Modes map[string]bool // nil: every mode
}

type serverList []serverSpec

func (l *serverList) String() string { return fmt.Sprint(len(*l), " servers") }

func (l *serverList) Set(v string) error {
	name, cmd, ok := strings.Cut(v, "=")
	if !ok || name == "" || strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("want name=command, got %q", v)
	}
	s := serverSpec{Args: strings.Fields(cmd)}
	s.Name, s.Modes = splitModes(name)
	for _, o := range *l {
		if o.Name == s.Name {
			return fmt.Errorf("server %q given twice", s.Name)
		}
	}
	*l = append(*l, s)
	return nil
}

// gobenchList is the repeatable -gobench flag: "file" for the current tree,
// "rev=file" for the servers built at rev.
type gobenchList []gobenchFile

type gobenchFile struct{ rev, path string }

func (l *gobenchList) String() string { return fmt.Sprint(len(*l), " files") }

func (l *gobenchList) Set(v string) error {
	rev, path, ok := strings.Cut(v, "=")
	if !ok {
		rev, path = "", v
	}
	if path == "" {
		return fmt.Errorf("want file or rev=file, got %q", v)
	}
	*l = append(*l, gobenchFile{rev: rev, path: path})
	return nil
}

func (s serverSpec) does(mode string) bool { return s.Modes == nil || s.Modes[mode] }

func suiteFlags(fs *flag.FlagSet) *suiteConfig {
	c := &suiteConfig{}
	fs.Var(&c.servers, "server", "a server: `name=command` with {port}; name@conn+req limits its modes (repeatable)")
	fs.Float64Var(&c.quietMax, "quiet-max", 0.05, "most other work during a run, as a share of the machine's CPU, before the run is made again")
	fs.IntVar(&c.retries, "retries", 3, "how many times a disturbed run is made again before its figures are kept anyway")
	fs.IntVar(&c.rounds, "rounds", 5, "rounds; each runs every mode on every server, servers in rotated order")
	fs.IntVar(&c.conn.Conns, "conn-c", 16, "conn: concurrent dialers")
	fs.Int64Var(&c.conn.Total, "conn-n", 40000, "conn: most connections per run")
	fs.DurationVar(&c.conn.Duration, "conn-d", 2*time.Second, "conn: longest run")
	fs.IntVar(&c.req.Conns, "req-c", 64, "req: connections")
	fs.Int64Var(&c.req.Total, "req-n", 2_000_000, "req: most requests per run")
	fs.DurationVar(&c.req.Duration, "req-d", 2*time.Second, "req: longest run")
	fs.Float64Var(&c.req.GetRatio, "get", 0.9, "req: share of gets")
	fs.IntVar(&c.req.ValueSize, "value", 32, "req: value size in bytes")
	fs.IntVar(&c.req.Keys, "keys", 1000, "req: key space")
	fs.IntVar(&c.req.Pipeline, "pipeline", 1, "req: pipeline depth")
	fs.IntVar(&c.idle.Conns, "idle-c", 4000, "idle: connections held by a fresh server")
	fs.DurationVar(&c.idle.Duration, "idle-d", 30*time.Second, "idle: longest time to open them")
	fs.Var(&c.gobench, "gobench", "go test -bench output with DispatchLatency p99-ns figures: `file`, or rev=file for the servers named ...@rev/... (repeatable)")
	fs.StringVar(&c.jsonOut, "json", "bench.json", "results `file`")
	fs.StringVar(&c.svgOut, "svg", "docs/bench.svg", "chart `file`")
	fs.StringVar(&c.logDir, "logs", os.TempDir(), "`dir` for the servers' output")
	return c
}

// proc is a started server.
type proc struct {
	spec serverSpec
	cmd  *exec.Cmd
	addr string
	log  *os.File
}

// startServer runs spec on a free loopback port and waits until it accepts.
func startServer(ctx context.Context, spec serverSpec, logDir string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := make([]string, len(spec.Args))
	for i, a := range spec.Args {
		args[i] = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
	}
	logName := filepath.Join(logDir, "handoff-bench-"+strings.NewReplacer("/", "_", "+", "_", " ", "_").Replace(spec.Name)+".log")
	log, err := os.OpenFile(logName, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	// Should the suite die, the kernel stops its servers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	p := &proc{spec: spec, cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: log}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("%s did not accept on %s (its output: %s): %v", spec.Name, p.addr, logName, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM, and SIGKILL if the server is still there 5 s later.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

// freePort asks the kernel for a loopback port nobody listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// runSuite starts every server side by side, runs conn and req on each,
// round after round with the order rotated (A B C, B C A, ...), then idle
// on a fresh process of each, and reports the medians.
func runSuite(ctx context.Context, c suiteConfig, stdout, stderr io.Writer) error {
	if len(c.servers) == 0 {
		return errors.New("no -server given")
	}
	if c.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	runs := make(map[string]map[string][]result) // server -> mode -> one result per round
	names := make([]string, len(c.servers))
	nameWidth := 0
	for i, s := range c.servers {
		runs[s.Name] = make(map[string][]result)
		names[i] = s.Name
		nameWidth = max(nameWidth, len(s.Name))
	}
	procs := make([]*proc, 0, len(c.servers))
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, s := range c.servers {
		if !s.does("conn") && !s.does("req") {
			continue
		}
		p, err := startServer(ctx, s, c.logDir)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		fmt.Fprintf(stderr, "started %s on %s (pid %d)\n", s.Name, p.addr, p.cmd.Process.Pid)
	}
	// Warm-up: the keys are set and every runtime has served some load.
	for _, p := range procs {
		if p.spec.does("req") {
			w := c.req
			w.Addr, w.Duration, w.Total = p.addr, 300*time.Millisecond, 1<<40
			if _, err := runReq(w); err != nil {
				return fmt.Errorf("%s: warm-up: %w", p.spec.Name, err)
			}
		}
	}
	disturbed := 0
	for round := range c.rounds {
		for _, mode := range []string{"conn", "req"} {
			for i := range procs {
				p := procs[(i+round)%len(procs)]
				if !p.spec.does(mode) {
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				l := c.conn
				run := runConn
				if mode == "req" {
					l, run = c.req, runReq
				}
				l.Addr, l.PID = p.addr, p.cmd.Process.Pid
				var r result
				for try := 0; ; try++ {
					o, err := startOther(l.PID)
					if err != nil {
						return err
					}
					if r, err = run(l); err != nil {
						return fmt.Errorf("%s %s: %w", p.spec.Name, mode, err)
					}
					if r.Other, err = o.share(); err != nil {
						return err
					}
					if r.Other <= c.quietMax || try == c.retries {
						break
					}
					fmt.Fprintf(stderr, "round %d/%d %-*s %s disturbed: other work took %.0f%% of the machine; again\n",
						round+1, c.rounds, nameWidth, p.spec.Name, mode, 100*r.Other)
				}
				if r.Other > c.quietMax {
					disturbed++
				}
				fmt.Fprintf(stderr, "round %d/%d %-*s %s (other work %.1f%%)\n", round+1, c.rounds, nameWidth, p.spec.Name, r, 100*r.Other)
				runs[p.spec.Name][mode] = append(runs[p.spec.Name][mode], r)
			}
		}
	}
	for _, p := range procs {
		p.stop()
	}
	procs = procs[:0]
	for round := range c.rounds {
		for i := range c.servers {
			s := c.servers[(i+round)%len(c.servers)]
			if !s.does("idle") {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r, err := idleFresh(ctx, s, c)
			if err != nil {
				return fmt.Errorf("%s idle: %w", s.Name, err)
			}
			fmt.Fprintf(stderr, "round %d/%d %-*s %s\n", round+1, c.rounds, nameWidth, s.Name, r)
			runs[s.Name]["idle"] = append(runs[s.Name]["idle"], r)
		}
	}
	rep := report{Rounds: c.rounds, Conn: c.conn, Req: c.req, Idle: c.idle, When: time.Now().UTC().Format(time.RFC3339)}
	for _, s := range c.servers {
		f := medians(s.Name, runs[s.Name])
		f.Ratios = roundRatios(runs, s.Name, ratioPeers(s.Name, names))
		rep.Servers = append(rep.Servers, f)
	}
	for _, g := range c.gobench {
		if err := rep.addDispatch(g.path, g.rev); err != nil {
			return err
		}
	}
	rep.Conn.Progress, rep.Req.Progress, rep.Idle.Progress = nil, nil, nil
	rep.Disturbed = disturbed
	rep.printTable(stdout)
	if disturbed > 0 {
		fmt.Fprintf(stdout, "\nwarning: %d runs had other work over %.0f%% of the machine after %d tries each; their figures are in the medians\n",
			disturbed, 100*c.quietMax, c.retries+1)
	}
	return writeResults(c.jsonOut, rep, c.svgOut, rep.svg())
}

// writeResults writes a suite's results as indented JSON to jsonOut and its
// chart to svgOut.
func writeResults(jsonOut string, results any, svgOut string, svg []byte) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(svgOut, svg, 0o644)
}

// idleFresh starts a new process of s, holds the idle connections, stops it.
func idleFresh(ctx context.Context, s serverSpec, c suiteConfig) (result, error) {
	p, err := startServer(ctx, s, c.logDir)
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	l := c.idle
	l.Addr, l.PID = p.addr, p.cmd.Process.Pid
	return runIdle(l)
}
