/*
 * dispatch.pml: handoff's connection hand-off (memcached's thread.c), and
 * a connection's life after it, in Promela for spin. The correctness argument it checks is spec/SPEC.md.
 *
 * The system (spec/DESIGN.md §1): Acceptors take connections from the
 * listeners; each connection gets a sequence number and a Worker
 * (round-robin), is pushed onto that Worker's queue under the queue's lock,
 * and then the Worker is woken by a token on its notify channel (a pipe byte
 * or an eventfd increment). A Worker reads the tokens, pops connections off
 * its queue and registers each in its own epoll set.
 *
 * Code modelled (impl/reactor), step by step (SPEC.md §2 has the full map):
 *   Accept     acceptor.acceptAll (accept4), acceptor.admit, balancer.pick:
 *              one atomic add gives the sequence number and the worker
 *   Dispatch   worker.dispatch: queue.pushLocked under q.mu
 *   Notify     worker.dispatch: wakeFlag.CompareAndSwap(0, 1) when
 *              coalesced, then notifier.signal
 *   Wake       worker.run (epoll_wait) -> worker.onNotify -> notifier.drain
 *   Pop        worker.pop: queue.popLocked under q.mu
 *   Register   worker.register: epollAdd, then OnOpen
 * and memcached 1.6 thread.c: dispatch_conn_new, thread_libevent_process.
 * The msgring designs (io_uring) map the same names onto the ring's steps:
 *   Accept     a completion of the Acceptor's multishot accept
 *   Dispatch   its IORING_OP_MSG_RING, which posts the connection into the
 *              Worker's completion queue: queue and notify in one
 *   Wake       the Worker's io_uring_enter returns (the kernel first moves
 *              what its overflow list holds into the CQ)
 *   Pop        the Worker reaps the CQ's oldest completion
 *   Register   the Worker arms the connection's receive
 *
 * After Register (the life section at the end, spin -a -DDESIGN_LIFE):
 *   Ready, flush  worker.onEvent (generation check), onConnEvent, Conn.flush
 *   Read, Data    worker.readConn, worker.deliver and the handler's OnData
 *   Write, Send   Conn.Write, Conn.writeSome
 *   settle        worker.settle: interest (epoll_ctl MOD), half-close loop
 *   Close         worker.finalize: OnClose, then close(2)
 *   Submit, Kick  Conn.AsyncWrite, Conn.Wake, owner.addTask
 *   Tasks, Run    worker.onTasks, worker.runTasks
 *   Drop          acceptor.admit (MaxConns), worker.register (ADD failed),
 *                 worker.shutdown (still queued)
 *   Stop, Done    Server.Serve's stop, worker.stop, worker.shutdown
 *
 * Designs, one chosen with -D (spin -a -DDESIGN_MEMCACHED dispatch.pml):
 *   correct
 *     DESIGN_MEMCACHED   pipe; a token per connection; the worker reads up to
 *                        READMAX (32) tokens and pops one connection per token
 *     DESIGN_EVENTFD     eventfd counter; a read returns and resets it; the
 *                        worker pops that many
 *     DESIGN_DRAIN       pipe, a token per connection; the worker reads the
 *                        tokens, then pops until the queue is empty (a
 *                        wake-up that finds nothing is harmless)
 *     DESIGN_COALESCED   a token only when the worker's wake-up flag flips
 *                        0->1; the worker reads it, clears the flag, then pops
 *                        until a pop finds the queue empty (the re-check)
 *   seeded bugs, each must be refuted
 *     BUG_NOTIFY_BEFORE_PUSH           memcached with Notify before Dispatch
 *     BUG_COALESCED_CLEAR_AFTER_DRAIN  coalesced, flag cleared after the drain
 *     BUG_DROP_ON_FULL_PIPE            memcached; EAGAIN on a full pipe
 *                                      ignored (the token is lost)
 *     BUG_RACY_RR                      two acceptors; the round-robin counter
 *                                      read and written back in two steps
 *     BUG_UNLOCKED_POP                 memcached; push and pop without the
 *                                      lock, as a Go slice's separate reads
 *                                      and writes of its header
 *     BUG_EVENTFD_POP_ONE              eventfd; the read resets the count but
 *                                      the worker pops one connection
 *   io_uring: correct
 *     DESIGN_MSGRING     MSG_RING posts the connection into the worker's CQ,
 *                        which holds PIPECAP completions; while it is full
 *                        the kernel holds OVERFLOW more back (default 1,
 *                        IORING_FEAT_NODROP) and moves them in at the
 *                        worker's next io_uring_enter; beyond that the
 *                        MSG_RING fails with EOVERFLOW and the acceptor,
 *                        still holding the fd, submits it again; a
 *                        multishot accept the kernel ends is re-armed
 *   io_uring: seeded bugs, each must be refuted (OVERFLOW default 0)
 *     BUG_MSGRING_IGNORE_FULL          a MSG_RING failed with EOVERFLOW is
 *                                      taken as done, its fd forgotten
 *     BUG_MULTISHOT_NOT_REARMED        a multishot accept the kernel ended
 *                                      is not submitted again
 *   after Register: correct
 *     DESIGN_LIFE        the reactor's connection life (model/'s "life")
 *   after Register: seeded bugs, each must be refuted
 *     BUG_TASK_CLEAR_AFTER_RUN         pending cleared after the tasks ran
 *     BUG_TASK_RESET_AFTER_SWAP        task eventfd reset after the swap
 *     BUG_CLOSE_BEFORE_ONCLOSE         close(2) before OnClose
 *     BUG_STALE_EVENT                  no generation check on an event
 *     BUG_STALE_TASK                   no generation check on a task
 *     BUG_SHUTDOWN_EARLY               Shutdown returns before the Workers
 *     BUG_SHUTDOWN_FORGETS_QUEUED      queued fds left open at shutdown
 *     BUG_ADD_FAIL_LEAKS               epoll_ctl ADD failed: fd left open
 *     BUG_CLOSE_DROPS_OUTPUT           a handler's Close drops pending output
 *     BUG_READ_OVER_BOUND              no read pause at MaxOutput
 *     BUG_HALFCLOSE_DROPS_INPUT        held input dropped at the peer's EOF
 *
 * Parameters (-D): NW workers (1..4, default 2), NC connections (default 3),
 * NA acceptors (default 1; 2 for BUG_RACY_RR), PIPECAP tokens a pipe holds
 * (default 1, so that a full pipe is reachable), READMAX tokens per pipe read
 * (default 32, memcached's MAX_PIPE_EVENTS); for msgring PIPECAP is the
 * completions a Worker's CQ holds and OVERFLOW those the kernel holds back
 * while it is full (default 1 for DESIGN_MSGRING, 0 for its seeded bugs).
 * LEMMAS also asserts the
 * inductive invariants SPEC.md's argument uses (correct designs only). The
 * lifecycle's own bounds are in its section's header.
 *
 * Properties (spec/DESIGN.md §2):
 *   P1 exactly-once      asserted at Register, by the Monitor, at quiescence
 *   P2 round-robin       asserted at Dispatch
 *   P3 per-worker FIFO   asserted at Register
 *   P4 no lost wake-up   the Monitor (state form), Quiescence (every fd
 *                        registered when nothing can move) and the LTL
 *                        formula p4 (-DLTL_P4), checked with pan -a -f
 *   P5 no fd leak        at every close(2); LifeQuiescence
 *   P6 close before reuse  at OnClose, Ready, Run, OnData
 *   P7 clean shutdown    at Done
 *   P8 no lost task      where a task is dropped; LifeQuiescence; the LTL
 *                        formula p8 (-DLTL_P8) under weak fairness
 *   P9 output integrity  at every read (the bound), at OnClose;
 *                        LifeQuiescence (every peer got what was written)
 *   P10 input integrity  at every OnData, at OnClose; LifeQuiescence
 *
 * Commands (spec/check.sh runs them all, in a temporary directory):
 *   safety, breadth-first so that a counterexample is a shortest one:
 *     spin -a -DDESIGN_MEMCACHED -DLEMMAS dispatch.pml
 *     cc -O0 -DBFS -DSAFETY -DNOFAIR -o pan pan.c && ./pan -m100000 -w20
 *   liveness (P4 as LTL, weak fairness; -A: the assertions were the run
 *   above):
 *     spin -a -DDESIGN_MEMCACHED -DLTL_P4 dispatch.pml
 *     cc -O0 -DNFAIR=3 -o pan pan.c && ./pan -a -f -A -m100000 -w20
 *   a counterexample, step by step (the same -D flags as the run):
 *     spin -t -DBUG_RACY_RR dispatch.pml
 *   -DNO_MONITOR leaves P4 to the quiescence check alone.
 *   a lifecycle design, safety then P8 as LTL (bounds: the life section):
 *     spin -a -DDESIGN_LIFE -DLEMMAS -DNC=2 -DNF=1 -DNT=1 -DRESET -DSHUTDOWN dispatch.pml
 *     cc -O1 -DBFS -DSAFETY -DNOFAIR -o pan pan.c && ./pan -m100000 -w20
 *     spin -a -DDESIGN_LIFE -DLTL_P8 -DNC=2 -DNF=1 -DNT=1 -DRESET -DSHUTDOWN dispatch.pml
 *     cc -O1 -DNFAIR=3 -o pan pan.c && ./pan -a -f -A -m100000 -w20
 *
 * States stored (spin 6.5.2, spec/check.sh), safety / liveness:
 *   NW=2 NC=3 PIPECAP=1 NA=1: memcached 446/413, eventfd 524/491,
 *     drain 713/611, coalesced 1152/1031
 *   NA=2 NW=2 NC=4 PIPECAP=1: memcached 13516/13364, eventfd 18565/18413,
 *     drain 30822/27725, coalesced 71935/66744
 *   NA=1 NW=3 NC=6 PIPECAP=2: memcached 19683/19621, coalesced 100430/98043
 *   life at model/'s five bounds (spec/check.sh): 514139/604038,
 *     501542/570839, 111225/155086, 55196/66485, 63298/60143
 * Seeded bugs at NW=2 NC=3 PIPECAP=1 (NA=2 for racy-rr): property, states
 * until the shortest counterexample, its length in steps:
 *   bug-notify-before-push P4 110 6, bug-coalesced-clear-after-drain P4 457
 *   17, bug-drop-on-full-pipe P4 304 13, bug-racy-rr P2 38 4,
 *   bug-unlocked-pop P1 337 17, bug-eventfd-pop-one P4 304 13,
 *   bug-msgring-ignore-full P1 893 16, bug-multishot-not-rearmed P4 21 1.
 * msgring: NA=1 NW=2 NC=3 PIPECAP=1 OVERFLOW=1 1020/772; NA=2 NW=2 NC=5
 *   PIPECAP=1 OVERFLOW=1 271021/172260; NA=2 NW=2 NC=4 PIPECAP=1
 *   OVERFLOW=0 43701/31176.
 */

/* ---------------------------------------------------------------- bounds */

/* A lifecycle design (the life section at the end) runs the hand-off of the
 * memcached design for one Worker, with a pipe that never fills. */
#if defined(DESIGN_LIFE) || defined(BUG_TASK_CLEAR_AFTER_RUN) || defined(BUG_TASK_RESET_AFTER_SWAP) || \
	defined(BUG_CLOSE_BEFORE_ONCLOSE) || defined(BUG_STALE_EVENT) || defined(BUG_STALE_TASK) || \
	defined(BUG_SHUTDOWN_EARLY) || defined(BUG_SHUTDOWN_FORGETS_QUEUED) || defined(BUG_ADD_FAIL_LEAKS) || \
	defined(BUG_CLOSE_DROPS_OUTPUT) || defined(BUG_READ_OVER_BOUND) || defined(BUG_HALFCLOSE_DROPS_INPUT)
#define LIFE
#define NW 1
#ifndef NC
#define NC 2
#endif
#define PIPECAP NC
#ifndef NF
#define NF 1
#endif
#ifndef NS
#define NS 1
#endif
#ifndef NT
#define NT 0
#endif
#ifndef SNDBUF
#define SNDBUF 1
#endif
#ifndef MAXOUT
#define MAXOUT 1
#endif
#ifndef ECHO
#define ECHO 1
#endif
#ifndef REQLEN
#define REQLEN 1
#endif
#ifndef MAXCONNS
#define MAXCONNS 0
#endif
#ifdef WAKE
#define WAKE_FIRST 1
#else
#define WAKE_FIRST 0
#endif
#endif

#ifndef NW
#define NW 2
#endif
#ifndef NC
#define NC 3
#endif
#ifndef PIPECAP
#define PIPECAP 1
#endif
#ifndef READMAX
#define READMAX 32
#endif

/* ---------------------------------------------------------------- designs */
/*
 * Each design is a combination of features:
 *   PIPE / EVENTFD    the notify channel
 *   PER_TOKEN         one Pop per token read (memcached, eventfd)
 *   DRAIN             Pop until the queue is empty (drain, coalesced)
 *   COALESCED         the wake-up flag
 * and at most one seeded fault.
 */
#if defined(LIFE)
#define PIPE
#define PER_TOKEN
#if defined(BUG_TASK_CLEAR_AFTER_RUN)
#define FAULT_CLEAR_AFTER_RUN
#elif defined(BUG_TASK_RESET_AFTER_SWAP)
#define FAULT_RESET_AFTER_SWAP
#elif defined(BUG_CLOSE_BEFORE_ONCLOSE)
#define FAULT_CLOSE_FIRST
#elif defined(BUG_STALE_EVENT)
#define FAULT_NO_EVENT_GEN
#elif defined(BUG_STALE_TASK)
#define FAULT_NO_TASK_GEN
#elif defined(BUG_SHUTDOWN_EARLY)
#define FAULT_SHUTDOWN_EARLY
#elif defined(BUG_SHUTDOWN_FORGETS_QUEUED)
#define FAULT_SHUT_FORGETS
#elif defined(BUG_ADD_FAIL_LEAKS)
#define FAULT_ADD_LEAK
#elif defined(BUG_CLOSE_DROPS_OUTPUT)
#define FAULT_CLOSE_DROPS
#elif defined(BUG_READ_OVER_BOUND)
#define FAULT_READ_OVER_BOUND
#elif defined(BUG_HALFCLOSE_DROPS_INPUT)
#define FAULT_HALFCLOSE_DROPS
#endif
#elif defined(DESIGN_MEMCACHED)
#define PIPE
#define PER_TOKEN
#elif defined(DESIGN_EVENTFD)
#define EVENTFD
#define PER_TOKEN
#elif defined(DESIGN_DRAIN)
#define PIPE
#define DRAIN
#elif defined(DESIGN_COALESCED)
#define PIPE
#define DRAIN
#define COALESCED
#elif defined(BUG_NOTIFY_BEFORE_PUSH)
#define PIPE
#define PER_TOKEN
#define FAULT_NOTIFY_FIRST
#elif defined(BUG_COALESCED_CLEAR_AFTER_DRAIN)
#define PIPE
#define DRAIN
#define COALESCED
#define FAULT_CLEAR_LATE
#elif defined(BUG_DROP_ON_FULL_PIPE)
#define PIPE
#define PER_TOKEN
#define FAULT_DROP_ON_FULL
#elif defined(BUG_RACY_RR)
#define PIPE
#define PER_TOKEN
#define FAULT_RACY_RR
#ifndef NA
#define NA 2
#endif
#elif defined(BUG_UNLOCKED_POP)
#define PIPE
#define PER_TOKEN
#define FAULT_UNLOCKED
#elif defined(BUG_EVENTFD_POP_ONE)
#define EVENTFD
#define PER_TOKEN
#define FAULT_POP_ONE
#elif defined(DESIGN_MSGRING)
#define MSGRING
#define DRAIN
#ifndef OVERFLOW
#define OVERFLOW 1
#endif
#elif defined(BUG_MSGRING_IGNORE_FULL)
#define MSGRING
#define DRAIN
#define FAULT_IGNORE_FULL
#elif defined(BUG_MULTISHOT_NOT_REARMED)
#define MSGRING
#define DRAIN
#define FAULT_NOT_REARMED
#else
#error "choose a design: -DDESIGN_MEMCACHED, -DDESIGN_EVENTFD, -DDESIGN_DRAIN, -DDESIGN_COALESCED, -DDESIGN_MSGRING, -DDESIGN_LIFE or a -DBUG_..."
#endif
#ifndef OVERFLOW
#define OVERFLOW 0
#endif

#ifndef NA
#define NA 1
#endif

/* ---------------------------------------------------------------- state */

/* Accept: the next connection's sequence number (0..NC). A connection is
 * named by its number; the fd itself plays no part in the hand-off. */
byte nextc;

#ifdef FAULT_RACY_RR
/* The round-robin counter, kept apart from the sequence number as memcached
 * keeps last_thread, so that it can be read and written back in two steps. */
byte rr;
#endif

/* A Worker's queue: n connections starting at v[head] (memcached's CQ,
 * impl/reactor's queue). head only grows, so v has room for all NC. */
typedef Queue {
	byte v[NC];
	byte head;
	byte n
};
Queue q[NW];

/* The notify channel. A pipe is a bounded channel of PIPECAP tokens; an
 * eventfd is a counter. PENDING(w): tokens written and not yet read. */
#if defined(MSGRING)
/* msgring has no channel of its own: the Worker's queue is its completion
 * queue and overflow list, q[w]'s oldest cq[w] completions in the CQ, the
 * rest held back by the kernel. What is pending is what the queue holds. */
byte cq[NW];
#define PENDING(w) q[w].n
/* ended[a]: the kernel ended Acceptor a's multishot accept (a completion
 * without IORING_CQE_F_MORE) and it is not yet submitted again; ends[a]
 * counts the ends, at most one per Acceptor (model/'s maxEnds). */
bit ended[NA];
byte ends[NA];
#elif defined(PIPE)
chan pipe[NW] = [PIPECAP] of { bit };
#define PENDING(w) len(pipe[w])
#else
byte efd[NW];
#define PENDING(w) efd[w]
#endif

#ifdef COALESCED
/* The wake-up flag: 1 from the Acceptor's 0->1 flip until the Worker, woken
 * by the token that flip wrote, clears it. */
bit flag[NW];
#endif

/* ---------------------------------------------------------------- ghosts */
/* Bookkeeping for the properties; nothing in the system reads these. */

bit  waiting[NW];   /* Worker w is blocked in epoll_wait on its notify channel */
byte inflight[NW];  /* Acceptors that pushed onto w's queue and have not yet
                       written its token (or decided not to, coalesced) */
#ifdef PER_TOKEN
byte hand[NW];      /* tokens Worker w has read and not yet spent on a Pop */
#endif
#ifdef DRAIN
bit  idle[NW];      /* Worker w's last Pop found its queue empty, and it has
                       not been woken since */
#endif
#ifdef COALESCED
bit  armed[NW];     /* an Acceptor flipped w's flag 0->1 and has not yet
                       written the token */
bit  woke[NW];      /* Worker w read its token and has not cleared its flag */
#endif
byte wpush[NW];     /* pushes onto w's queue (counted where n grows) */
byte wpop[NW];      /* pops from w's queue (counted where n shrinks) */
byte wdisp[NW];     /* connections dispatched to w so far */
byte wreg[NW];      /* connections w has registered so far */
byte dseq[NC];      /* dseq[c]: c was the dseq[c]-th connection dispatched to
                       its worker (P3) */
byte owner[NC];     /* 1 + the worker that registered c; 0: not registered */
byte nreg;          /* connections registered (each counted once) */

/* Assertion names: each is 1 until the check of that name fails, so that pan
 * prints "assertion violated P4_no_lost_wakeup". */
bit P1_exactly_once = 1;
bit P2_round_robin = 1;
bit P3_per_worker_fifo = 1;
bit P4_no_lost_wakeup = 1;
bit lemma = 1;

#if NW == 1
#define ALLW(P) (P(0))
#elif NW == 2
#define ALLW(P) (P(0) && P(1))
#elif NW == 3
#define ALLW(P) (P(0) && P(1) && P(2))
#elif NW == 4
#define ALLW(P) (P(0) && P(1) && P(2) && P(3))
#else
#error "NW must be 1..4"
#endif

/* ---------------------------------------------------------------- steps */

/*
 * Dispatch: push c onto w's queue. Stands for worker.dispatch's
 * q.mu.Lock(); q.pushLocked(it); traceDispatch; q.mu.Unlock(): the lock
 * makes the push one step (the d_step stands for the mutex).
 * Simplified: the queue never fills (impl/reactor grows its ring; admission
 * bounds it by MaxConns).
 */
inline dispatched(a, w, c) {
	printf("Dispatch a=%d w=%d c=%d\n", a, w, c);
	P2_round_robin = (w == c % NW);
	assert(P2_round_robin);
	dseq[c] = wdisp[w];
	wdisp[w]++;
#if !defined(FAULT_NOTIFY_FIRST) && !defined(MSGRING)
	inflight[w]++;
#endif
}

#ifndef FAULT_UNLOCKED
inline push(a, w, c) {
	d_step {
		q[w].v[q[w].head + q[w].n] = c;
		q[w].n++;
		wpush[w]++;
		dispatched(a, w, c)
	}
}
#else
/*
 * BUG_UNLOCKED_POP: q = append(q, c) without the lock. Go reads the slice
 * header, writes the element, then writes the whole header back; a pop that
 * ran in between is undone (its connection popped again) or a pop's header
 * write undoes the push (the connection vanishes). Simplified: each header
 * read and write is one step (a torn header would only add behaviours).
 */
inline push(a, w, c) {
	d_step { qh = q[w].head; qn = q[w].n; printf("Push.read a=%d w=%d head=%d n=%d\n", a, w, qh, qn) }
	d_step { q[w].v[qh + qn] = c; dispatched(a, w, c) }
	d_step {
		q[w].head = qh;
		q[w].n = qn + 1;
		wpush[w]++;
		printf("Push.write a=%d w=%d head=%d n=%d\n", a, w, qh, qn + 1);
		qh = 0;
		qn = 0
	}
}
#endif

/*
 * Notify: write one token for w. Stands for notifier.signal (pipe: one byte
 * 'c'; eventfd: add 1), preceded by traceNotify. The pipe's write end is
 * non-blocking; signal waits out EAGAIN with poll, which is the blocking send
 * here: the Acceptor waits while the pipe holds PIPECAP tokens.
 */
inline notify(a, w) {
#if defined(EVENTFD)
	d_step { efd[w]++; inflight[w]--; printf("Notify a=%d w=%d\n", a, w) }
#elif defined(FAULT_DROP_ON_FULL)
	/* BUG_DROP_ON_FULL_PIPE: write(2) returns EAGAIN and the token is lost. */
	d_step {
		if
		:: nfull(pipe[w]) -> pipe[w]!1; printf("Notify a=%d w=%d\n", a, w)
		:: full(pipe[w]) -> printf("Notify a=%d w=%d: pipe full, EAGAIN ignored, token lost\n", a, w)
		fi;
		inflight[w]--
	}
#else
	atomic { pipe[w]!1 -> inflight[w]--; printf("Notify a=%d w=%d\n", a, w) }
#endif
}

#ifdef COALESCED
/*
 * Notify, coalesced: the compare-and-swap of w's flag from 0 to 1; only the
 * winner writes a token. Stands for worker.dispatch's
 * wakeFlag.CompareAndSwap(0, 1) followed by notifier.signal. The loser
 * relies on the token of whoever set the flag: pending, about to be written,
 * or already read by a Worker that has not yet cleared the flag and so has
 * not yet drained. The flip and the write are two steps, as in the reactor
 * (traceNotify and the write syscall sit between them); the flag's atomic
 * CompareAndSwap is the d_step.
 */
inline notify_coalesced(a, w) {
	if
	:: d_step { flag[w] == 1 -> inflight[w]--; printf("Coalesce a=%d w=%d\n", a, w) }
	:: d_step { flag[w] == 0 -> flag[w] = 1; armed[w] = 1; printf("Flip a=%d w=%d\n", a, w) }
	   atomic { pipe[w]!1 -> armed[w] = 0; inflight[w]--; printf("Notify a=%d w=%d\n", a, w) }
	fi
}
#endif

/*
 * Wake: Worker w, blocked in epoll_wait, reads its tokens. Stands for
 * notifier.drain: a pipe read returns min(pending, READMAX) bytes, an
 * eventfd read returns the counter and resets it. Simplified: epoll_wait's
 * return and the read are one step (nothing else touches the channel's read
 * side).
 */
inline wake(w, n) {
	d_step {
		PENDING(w) > 0 ->
#ifdef PIPE
		do
		:: n < READMAX && len(pipe[w]) > 0 -> pipe[w]?_; n++
		:: else -> break
		od;
#else
		n = efd[w];
		efd[w] = 0;
#endif
		waiting[w] = 0;
#ifdef DRAIN
		idle[w] = 0;
#endif
#ifdef COALESCED
		woke[w] = 1;
#endif
#ifdef PER_TOKEN
#ifdef FAULT_POP_ONE
		hand[w] = 1;    /* BUG_EVENTFD_POP_ONE: the count is dropped */
#else
		hand[w] = n;
#endif
#endif
		printf("Wake w=%d n=%d\n", w, n);
		n = 0
	}
}

/*
 * Pop: take the head of w's queue, under the lock (worker.pop:
 * queue.popLocked inside q.mu, with tracePop). got is 0 when the queue is
 * empty: memcached's cq_pop returning NULL. guard is the condition for
 * trying: a token in hand (per-token) or true (drain). The d_step stands for
 * the mutex; the reactor's ring (grow, wrap-around) is an array with a head
 * that only grows, which holds the same sequence.
 */
#ifndef FAULT_UNLOCKED
inline pop(w, c, got, guard) {
	d_step {
		guard;
#ifdef PER_TOKEN
		hand[w]--;
#endif
		if
		:: q[w].n > 0 ->
			c = q[w].v[q[w].head];
			q[w].v[q[w].head] = 0;
			q[w].head++;
			q[w].n--;
			wpop[w]++;
			got = 1;
			printf("Pop w=%d c=%d\n", w, c)
		:: else ->
			got = 0;
#ifdef DRAIN
			idle[w] = 1;
#endif
			printf("Pop w=%d: queue empty\n", w)
		fi
	}
}
#else
/* BUG_UNLOCKED_POP: c := q[0]; q = q[1:] without the lock: read the header
 * (and the head element), then write the header back. */
inline pop(w, c, got, guard) {
	atomic {
		guard;
		hand[w]--;
		qh = q[w].head;
		qn = q[w].n;
		if
		:: qn > 0 -> c = q[w].v[qh]; got = 1; printf("Pop.read w=%d head=%d n=%d\n", w, qh, qn)
		:: else -> got = 0; qh = 0; printf("Pop w=%d: queue empty\n", w)
		fi
	}
	if
	:: got ->
		d_step {
			q[w].head = qh + 1;
			q[w].n = qn - 1;
			wpop[w]++;
			printf("Pop w=%d c=%d (writes head=%d n=%d)\n", w, c, qh + 1, qn - 1);
			qh = 0;
			qn = 0
		}
	:: else
	fi
}
#endif

/*
 * Register: add c to w's epoll set (worker.register: epollAdd, then
 * traceRegister; OnOpen follows). Checks P1 (never registered twice) and P3
 * (the k-th connection dispatched to w is the k-th it registers).
 * Simplified: epoll_ctl never fails here; the life section's Worker models
 * its failure (Drop, P5).
 */
inline register(w, c) {
	d_step {
		printf("Register w=%d c=%d\n", w, c);
		P1_exactly_once = (owner[c] == 0);
		assert(P1_exactly_once);
		P3_per_worker_fifo = (dseq[c] == wreg[w]);
		assert(P3_per_worker_fifo);
		owner[c] = w + 1;
		wreg[w]++;
		nreg++;
		c = 0
	}
}

/* Pop until a Pop finds the queue empty, registering each connection:
 * worker.onNotify's coalesced loop (for { pop; register }). The failing Pop
 * is the re-check; it runs under the lock like any other. */
inline drain_queue(w, c, got) {
	do
	:: pop(w, c, got, true);
	   if
	   :: got -> register(w, c)
	   :: else -> break
	   fi
	od
}

#if defined(MSGRING)
/* ---------------------------------------------------------------- msgring */

/*
 * Dispatch, msgring: the Acceptor's MSG_RING of c to w, and its reap of the
 * result from its own ring. The kernel appends the completion to w's CQ if
 * the CQ has room and nothing is held back before it, else to the overflow
 * list if that has room; else the MSG_RING fails with EOVERFLOW, nothing is
 * posted, and the Acceptor submits it again (the loop), or, in
 * BUG_MSGRING_IGNORE_FULL, takes it as done.
 */
inline post(a, w, c) {
	do
	:: atomic {
		q[w].n < PIPECAP + OVERFLOW ->
		dispatched(a, w, c);
		if
		:: cq[w] == q[w].n && cq[w] < PIPECAP -> cq[w]++
		:: else -> printf("  (CQ full: held back in the overflow list)\n")
		fi;
		q[w].v[q[w].head + q[w].n] = c;
		q[w].n++;
		wpush[w]++
	   };
	   break
#ifndef FAULT_IGNORE_FULL
	:: atomic { q[w].n >= PIPECAP + OVERFLOW -> printf("MsgRing a=%d w=%d c=%d: EOVERFLOW, to submit again\n", a, w, c) }
#else
	:: atomic { q[w].n >= PIPECAP + OVERFLOW -> printf("MsgRing a=%d w=%d c=%d: EOVERFLOW ignored, fd forgotten\n", a, w, c) };
	   break
#endif
	od
}

/*
 * Acceptor a, msgring: Accept is a completion of its multishot accept,
 * which the kernel may end while connections wait; the Acceptor then
 * submits it again (Rearm), except in BUG_MULTISHOT_NOT_REARMED.
 */
proctype Acceptor(byte a) {
	byte c, w;
	do
	:: nextc >= NC -> break
	:: d_step {
		!ended[a] && nextc < NC -> c = nextc; nextc++; w = c % NW;
		printf("Accept a=%d c=%d\n", a, c)
	   }
	   post(a, w, c);
	   atomic { c = 0; w = 0 }  /* atomic: post's break jumps here */
	:: d_step { !ended[a] && ends[a] < 1 && nextc < NC -> ended[a] = 1; ends[a]++; printf("End a=%d: the kernel ends the multishot accept\n", a) }
#ifndef FAULT_NOT_REARMED
	:: d_step { ended[a] -> ended[a] = 0; printf("Rearm a=%d\n", a) }
#endif
	od
}

/*
 * Worker w, msgring: io_uring_enter waits for a completion, the kernel
 * moving what it held back into the CQ first (Wake); then the Worker reaps
 * the CQ until it is empty, registering each connection, and enters again.
 * What the kernel still holds back waits for that enter.
 */
proctype Worker(byte w) {
	byte c;
end_wait:
	do
	:: d_step {
		q[w].n > 0 ->
		if
		:: q[w].n < PIPECAP -> cq[w] = q[w].n
		:: else -> cq[w] = PIPECAP
		fi;
		waiting[w] = 0;
		idle[w] = 0;
		printf("Wake w=%d n=%d\n", w, cq[w])
	   }
	   do
	   :: atomic {
		cq[w] > 0 ->
		c = q[w].v[q[w].head];
		q[w].v[q[w].head] = 0;
		q[w].head++;
		q[w].n--;
		cq[w]--;
		wpop[w]++;
		printf("Pop w=%d c=%d\n", w, c)
	      };
	      register(w, c)
	   :: atomic { cq[w] == 0 -> idle[w] = 1; printf("Pop w=%d: CQ empty\n", w) };
	      break
	   od;
	   atomic { waiting[w] = 1; c = 0; printf("Wait w=%d\n", w) }  /* back into io_uring_enter */
	od
}

#elif !defined(LIFE)
/* ---------------------------------------------------------------- processes */

/*
 * Acceptor a: accept until NC connections have been accepted (by all
 * Acceptors together). Stands for acceptor.acceptAll/admit and
 * worker.dispatch.
 */
proctype Acceptor(byte a) {
	byte c, w;
#ifdef FAULT_RACY_RR
	byte t;
#endif
#ifdef FAULT_UNLOCKED
	byte qh, qn;
#endif
	do
	:: nextc >= NC -> break
#ifndef FAULT_RACY_RR
	/* Accept: accept4 returns an fd; balancer.pick's one atomic add gives
	 * it the next sequence number c and the worker c mod NW. */
	:: d_step {
		nextc < NC -> c = nextc; nextc++; w = c % NW;
		printf("Accept a=%d c=%d\n", a, c)
	   }
#else
	/* BUG_RACY_RR: the counter is read with the accept ... */
	:: d_step {
		nextc < NC -> c = nextc; nextc++; t = rr;
		printf("Accept a=%d c=%d (reads rr=%d)\n", a, c, t)
	   }
	   /* ... and written back in a later step: another Acceptor can read the
	    * same value in between, and two connections go to one worker. */
	   d_step { rr = (t + 1) % NW; w = t; t = 0; printf("Advance a=%d rr=%d\n", a, rr) }
#endif
#ifdef FAULT_NOTIFY_FIRST
	   /* BUG_NOTIFY_BEFORE_PUSH: the token goes out before the push. */
	   atomic { pipe[w]!1 -> printf("Notify a=%d w=%d\n", a, w) }
	   push(a, w, c);
	   d_step { c = 0; w = 0 }
#else
	   push(a, w, c);       /* Dispatch */
#ifdef COALESCED
	   notify_coalesced(a, w);
#else
	   notify(a, w);        /* Notify */
#endif
	   d_step { c = 0; w = 0 }
#endif
	od
}

/*
 * Worker w: stands for the worker's event loop (worker.run, worker.onNotify):
 * wait for its notify channel to be readable, read the tokens, pop and
 * register.
 * Simplified: a Worker does nothing else (its connections' I/O and its task
 * list touch neither its queue nor its notify channel); the life section's
 * Worker does all of it, over the memcached design's queue and pipe.
 */
proctype Worker(byte w) {
	byte n, c;
	bit got;
#ifdef FAULT_UNLOCKED
	byte qh, qn;
#endif
end_wait:
	do
	:: wake(w, n);                           /* Wake */
#ifdef PER_TOKEN
	   /* one Pop per token; a Pop that finds nothing ends the batch, as
	    * thread_libevent_process returns when cq_pop gives NULL */
	   do
	   :: pop(w, c, got, hand[w] > 0);
	      if
	      :: got -> register(w, c)
	      :: else -> hand[w] = 0
	      fi
	   :: hand[w] == 0 -> break
	   od;
#endif
#if defined(DRAIN) && !defined(COALESCED)
	   drain_queue(w, c, got);
#endif
#ifdef COALESCED
#ifndef FAULT_CLEAR_LATE
	   atomic { flag[w] = 0; woke[w] = 0; printf("Clear w=%d\n", w) }
	   drain_queue(w, c, got);
#else
	   /* BUG_COALESCED_CLEAR_AFTER_DRAIN: a push between the last Pop and
	    * the clear sees the flag still set and writes no token. */
	   drain_queue(w, c, got);
	   atomic { flag[w] = 0; woke[w] = 0; printf("Clear w=%d\n", w) }
#endif
#endif
	   atomic { waiting[w] = 1; c = 0; got = 0; printf("Wait w=%d\n", w) }  /* back to epoll_wait */
	od
}

#endif
#if defined(LIFE)
/* ================================================================ life */
/*
 * A connection's life after Register (-DDESIGN_LIFE, or a lifecycle
 * -DBUG_...): the same machine as model/life*.go, step for step (SPEC.md §2
 * maps each step). Composed with the hand-off above rather than multiplied
 * into it: the Acceptor's Accept pushes (push) and notifies (notify) as the
 * memcached design does, in one atomic step, and the Worker's notify event
 * is wake, then pop per token; the hand-off's own processes, Quiescence and
 * ltl p4 are left out, its Monitor stays (QUEUE_EXACT, AWAKE_OR_TOKEN and,
 * with LEMMAS, the per-token LEMMA). Every process is a loop of guarded
 * d_steps over an explicit program counter, as model/ is a switch over one.
 *
 * Processes: Peer(i) for each of the NC peers (connect in turn, send, quit,
 * half-close, reset, read), Acceptor0 (accept4 on the lowest free fd,
 * EMFILE, MaxConns), LWorker (epoll_wait's batch; notify; the task list;
 * a connection's events: flush, read, OnData, settle, epoll_ctl MOD,
 * OnClose, close; the idle timeout; shutdown), Async (AsyncWrite and Wake
 * from another goroutine: handle, gone check, addTask), Server (Shutdown:
 * Stop, stop the Workers, Done) and LifeQuiescence.
 *
 * Bounds (-D): NC peers (1..4), NF fd numbers (1..3), NS units per peer,
 * NT calls of the other goroutine (0..2), SNDBUF, MAXOUT (MaxOutput), ECHO
 * (units written per request), REQLEN (units per request), MAXCONNS (0: no
 * limit); switches WAKE (the first call a Wake), RESET, QUIT, IDLE,
 * CTLFAIL, SHUTDOWN. Units are abstract bytes. A trail prints a cause as
 * its number: 1 handler, 2 eof, 3 reset, 4 idle, 5 shutdown, 6 epoll.
 * spin's trails count Accept, Dispatch and Notify as three lines where
 * model/ takes them as one step.
 */

#define NOC 255

#define CAUSE_NONE     0
#define CAUSE_HANDLER  1
#define CAUSE_EOF      2
#define CAUSE_RESET    3
#define CAUSE_IDLE     4
#define CAUSE_SHUTDOWN 5
#define CAUSE_EPOLL    6

/* peer phases */
#define P_AWAY     0
#define P_BACKLOG  1
#define P_ACCEPTED 2

/* connection phases */
#define C_QUEUED  0
#define C_POPPED  2
#define C_OPEN    3
#define C_CLOSED  4
#define C_DROPPED 5

/* fates of the other goroutine's calls */
#define T_NONE    0
#define T_REFUSED 1
#define T_LISTED  2
#define T_RAN     3
#define T_DROPPED 4

/* the Worker's program counter, model/'s LWPC */
#define W_POLL       0
#define W_NEXT       1
#define W_WAKE       2
#define W_POPNEXT    3
#define W_ADD        4
#define W_RESET      5
#define W_SWAP       6
#define W_RUN        7
#define W_CLEAR      8
#define W_READY      9
#define W_FLUSH      10
#define W_READ       11
#define W_DELIVER    12
#define W_SETTLE     13
#define W_SETTLELOOP 14
#define W_MOD        15
#define W_ONCLOSE    16
#define W_CLOSE      17
#define W_SHUTQUEUE  18
#define W_SHUTTASKS  19
#define W_SHUTCONN   20
#define W_SHUTFLUSH  21
#define W_EXIT       22

#define CTX_EVENT 0
#define CTX_TASK  1
#define CTX_IDLE  2
#define CTX_SHUT  3

#define A_RUN  0
#define A_EXIT 1

#define AS_IDLE   0
#define AS_CHECK  1
#define AS_SUBMIT 2
#define AS_KICK   3

#define S_SERVING 0
#define S_JOINA   1
#define S_JOINW   2
#define S_DONE    3

/* ---------------------------------------------------------------- life state */

/* The kernel's fd table: fdt[i] is 1 + the peer whose socket fd number i+1
 * names, 0 when the number is free (accept4 takes the lowest). */
byte fdt[NF];

/* Peers and the kernel's side of their sockets: rx the server has not read,
 * tx the peer has not read of the server's send buffer, got received. */
byte connected, taken;
byte pphase[NC], psent[NC], prx[NC], ptx[NC], pgot[NC], pconn[NC];
bit pquit[NC], pfin[NC], prst[NC], pclosed[NC], pkilled[NC];

/* The Acceptor; nopen counts the admitted (MaxConns). */
byte apc;
bit apaused;
byte nopen;

/* Connections by sequence number: the reactor's Conn and its ghosts. */
byte nconns;
byte cphase[NC], cpeer[NC], cfd[NC], cgen[NC], cerr[NC], cheld[NC], cout[NC];
bit creadon[NC], cwriteon[NC], cclosing[NC], crdclosed[NC];
byte crecv[NC], cused[NC], cwrote[NC], conclose[NC], cwhy[NC];
bit cfdclosed[NC], clost[NC], cshown[NC];

/* The Worker: its program counter (global, for the Monitor), context, the
 * connection it works on, the batch epoll_wait returned (one slot for the
 * notify pipe, one for the task eventfd, one per connection) and the event
 * being handled. */
byte wpc, wctx, wconn = NOC, wfresh, wafter, wmark, wwhy, lgen;
bit wshut;
bit bnotify, btasks;
bit bconn[NC], bin[NC], bout[NC], berr[NC];
byte bfd[NC], bgen[NC];
byte evfd, evgen;
bit evin, evout, everr;

/* The task list under its lock, the tasks the Worker took, the other
 * goroutine and what became of each of its calls. */
byte nlist, lid[2], lconn[2], lgenof[2];
bit lwake[2];
bit pending, tclosed, kicked, locked;
byte ntaken, tnext, tkid[2], tkconn[2], tkgen[2];
bit tkwake[2];
byte aspc, asconn, asgen, made;
bit aswake;
byte fate[2];

/* The server. */
byte srv;
bit stopped, stopflag;

bit P5_no_fd_leak = 1;
bit P6_close_before_reuse = 1;
bit P7_clean_shutdown = 1;
bit P8_no_lost_task = 1;
bit P9_output_integrity = 1;
bit P10_input_integrity = 1;

#if NC == 1
#define ANYC(P) (P(0))
#elif NC == 2
#define ANYC(P) (P(0) || P(1))
#elif NC == 3
#define ANYC(P) (P(0) || P(1) || P(2))
#elif NC == 4
#define ANYC(P) (P(0) || P(1) || P(2) || P(3))
#else
#error "NC must be 1..4 for a lifecycle design"
#endif
#if NF == 1
#define FDFREE (fdt[0] == 0)
#elif NF == 2
#define FDFREE (fdt[0] == 0 || fdt[1] == 0)
#elif NF == 3
#define FDFREE (fdt[0] == 0 || fdt[1] == 0 || fdt[2] == 0)
#else
#error "NF must be 1..3"
#endif

/* What epoll_wait reports of connection c (level-triggered). */
#define IN_READY(c)  (creadon[c] && (prx[cpeer[c]] > 0 || pfin[cpeer[c]] || prst[cpeer[c]]))
#define OUT_READY(c) (cwriteon[c] && (ptx[cpeer[c]] < SNDBUF || prst[cpeer[c]]))
#define ERR_READY(c) (prst[cpeer[c]])
#define CONN_READY(c) (c < nconns && cphase[c] == C_OPEN && (IN_READY(c) || OUT_READY(c) || ERR_READY(c)))
#define READY_ANY (PENDING(0) > 0 || kicked || ANYC(CONN_READY))
#define BCONN(c) (bconn[c])
#define BATCH_ANY (bnotify || btasks || ANYC(BCONN))

/* onConnEvent's read condition and settle's interest (model/'s mayRead,
 * want); bug-read-over-bound drops the output bound from both. */
#ifdef FAULT_READ_OVER_BOUND
#define UNDER_BOUND(c) 1
#else
#define UNDER_BOUND(c) (cout[c] < MAXOUT)
#endif
#define MAYREAD(c) ((evin || everr) && creadon[c] && cerr[c] == CAUSE_NONE && !cclosing[c] && UNDER_BOUND(c))
#define WANT_IN(c) (!cclosing[c] && !crdclosed[c] && UNDER_BOUND(c))

/* ---------------------------------------------------------------- life steps */

/* The kernel's side of close(2) on peer p's socket: the number is free; the
 * peer reads what is left, then EOF, unless input was left unread: then the
 * kernel resets the connection and what was left is lost. */
inline close_socket(p) {
	for (j : 0 .. NF - 1) {
		if
		:: fdt[j] == p + 1 -> fdt[j] = 0
		:: else
		fi
	}
	j = 0;
	pclosed[p] = 1;
	if
	:: prx[p] > 0 && !prst[p] -> pkilled[p] = 1; ptx[p] = 0
	:: else
	fi
}

/* P5 before close(2) of connection k's fd: still k's socket. */
inline check_fd_close(k) {
	P5_no_fd_leak = (fdt[cfd[k] - 1] == cpeer[k] + 1);
	assert(P5_no_fd_leak)
}

/* onfd: the registered connection whose fd is f (the Worker's conns map),
 * into c. */
inline onfd(f) {
	c = NOC;
	for (i : 0 .. NC - 1) {
		if
		:: i < nconns && cphase[i] == C_OPEN && cfd[i] == f -> c = i
		:: else
		fi
	}
	i = 0
}

/* Conn.Write of units on k (model/'s write): refused once closing, failed
 * or closed; sent at once as far as the send buffer has room if nothing is
 * pending (EPIPE fails the connection), the rest buffered. */
inline write(k, units) {
	if
	:: cphase[k] != C_OPEN || cclosing[k] || cerr[k] != CAUSE_NONE -> skip
	:: else ->
		cwrote[k] = cwrote[k] + units;
		u = units;
		if
		:: cout[k] == 0 && prst[cpeer[k]] -> cerr[k] = CAUSE_RESET; u = 0
		:: cout[k] == 0 && !prst[cpeer[k]] ->
			sent = SNDBUF - ptx[cpeer[k]];
			if
			:: sent > u -> sent = u
			:: else
			fi;
			ptx[cpeer[k]] = ptx[cpeer[k]] + sent;
			u = u - sent
		:: else
		fi;
		cout[k] = cout[k] + u
	fi;
	u = 0;
	sent = 0
}

/* OnData of offer units for k, memcached's handler (model/'s handler): a
 * request at a time, ECHO units written for each, stop once output is left
 * pending; a quit closes (Conn.Close) and consumes the rest; called with
 * nothing, it writes one unit. Then deliver keeps what it left. */
inline handler(k) {
	used = 0;
	if
	:: offer == 0 -> write(k, 1)
	:: else ->
		do
		:: used + REQLEN <= offer ->
			pos = cused[k] + used + REQLEN - 1;
			used = used + REQLEN;
			if
			:: pquit[cpeer[k]] && pos == psent[cpeer[k]] - 1 -> cclosing[k] = 1; used = offer; break
			:: else ->
				write(k, ECHO);
				if
				:: cerr[k] != CAUSE_NONE -> used = offer; break
				:: cerr[k] == CAUSE_NONE && cout[k] > 0 -> break
				:: else
				fi
			fi
		:: else -> break
		od;
		cused[k] = cused[k] + used;
		if
		:: cerr[k] != CAUSE_NONE || cphase[k] != C_OPEN -> cheld[k] = 0
		:: else -> cheld[k] = offer - used
		fi
	fi;
	pos = 0
}

/* Back to what the Worker was doing before it took up a connection. */
inline ret() {
	wconn = NOC;
	wwhy = CAUSE_NONE;
	evfd = 0; evgen = 0; evin = 0; evout = 0; everr = 0;
	if
	:: wctx == CTX_TASK -> wpc = W_RUN
	:: wctx == CTX_IDLE -> wpc = W_POLL
	:: wctx == CTX_SHUT -> wpc = W_SHUTCONN
	:: else -> wpc = W_NEXT
	fi
}

/* worker.finalize of the current connection: OnClose, then close(2)
 * (bug-close-before-onclose: the other way round). */
inline finalize(why) {
	wwhy = why;
#ifdef FAULT_CLOSE_FIRST
	wpc = W_CLOSE
#else
	wpc = W_ONCLOSE
#endif
}

/* The Worker's steps that make no system call and emit no event, up to the
 * next one that does or that is a choice (model/'s advance): onConnEvent's
 * tests between its parts, settle, the return. */
inline advance() {
	do
	:: wpc == W_FLUSH ->
		if
		:: (evout || everr) && cout[wconn] > 0 -> break
		:: else -> wpc = W_READ
		fi
	:: wpc == W_READ ->
		if
		:: MAYREAD(wconn) -> break
		:: else ->
			if
			:: everr && !creadon[wconn] && cout[wconn] == 0 && cerr[wconn] == CAUSE_NONE -> cerr[wconn] = CAUSE_RESET
			:: else
			fi;
			wpc = W_SETTLE
		fi
	:: wpc == W_SETTLE || wpc == W_SETTLELOOP ->
		c = wconn;
		if
		:: cphase[c] != C_OPEN -> ret()
		:: cphase[c] == C_OPEN && cerr[c] != CAUSE_NONE -> finalize(cerr[c]); break
		:: cphase[c] == C_OPEN && cerr[c] == CAUSE_NONE ->
			loop = (crdclosed[c] && !cclosing[c] && cout[c] == 0 && cheld[c] > 0);
			if
			:: wpc == W_SETTLELOOP && cheld[c] >= wmark -> loop = 0
			:: else
			fi;
			if
			:: loop -> wmark = cheld[c]; wfresh = 0; wafter = W_SETTLELOOP; wpc = W_DELIVER; break
#ifdef FAULT_CLOSE_DROPS
			:: !loop && (cclosing[c] || crdclosed[c] && cout[c] == 0) ->
#else
			:: !loop && (cclosing[c] || crdclosed[c]) && cout[c] == 0 ->
#endif
				if
				:: cclosing[c] -> finalize(CAUSE_HANDLER)
				:: else -> finalize(CAUSE_EOF)
				fi;
				break
			:: else ->
				inw = WANT_IN(c);
				outw = (cout[c] > 0);
				if
				:: inw == creadon[c] && outw == cwriteon[c] -> ret()
				:: else ->
#ifdef CTLFAIL
					wpc = W_MOD;
					break
#else
					creadon[c] = inw;
					cwriteon[c] = outw;
					ret()
#endif
				fi
			fi
		fi
	:: wpc == W_POPNEXT ->
		if
		:: hand[0] > 0 && q[0].n > 0 -> break
		:: else -> hand[0] = 0; wpc = W_NEXT
		fi
	:: else -> break
	od;
	c = 0; loop = 0; inw = 0; outw = 0
}

/* ---------------------------------------------------------------- life processes */

/*
 * Peer i: connects in turn, then, once accepted, sends up to NS units (the
 * last may be a quit), half-closes, resets, and reads what the server sent,
 * all whenever it likes; it stops sending once it half-closed, quit, reset
 * or the server closed its socket.
 */
proctype Peer(byte i) {
end_peer:
	do
	:: d_step { pphase[i] == P_AWAY && connected == i -> pphase[i] = P_BACKLOG; connected++; printf("Peer p%d connects\n", i) }
	:: d_step { pphase[i] == P_ACCEPTED && !prst[i] && !pclosed[i] && !pfin[i] && !pquit[i] && psent[i] < NS ->
		psent[i]++; prx[i]++; printf("Peer p%d sends\n", i) }
#ifdef QUIT
	:: d_step { pphase[i] == P_ACCEPTED && !prst[i] && !pclosed[i] && !pfin[i] && !pquit[i] && psent[i] < NS ->
		psent[i]++; prx[i]++; pquit[i] = 1; printf("Peer p%d sends a quit\n", i) }
#endif
	:: d_step { pphase[i] == P_ACCEPTED && !prst[i] && !pclosed[i] && !pfin[i] -> pfin[i] = 1; printf("Peer p%d half-closes\n", i) }
#ifdef RESET
	:: d_step { pphase[i] == P_ACCEPTED && !prst[i] && !pkilled[i] && !(pclosed[i] && ptx[i] == 0) ->
		prst[i] = 1; ptx[i] = 0; printf("Peer p%d resets\n", i) }
#endif
	:: d_step { ptx[i] > 0 && !prst[i] && !pkilled[i] -> pgot[i] = pgot[i] + ptx[i]; ptx[i] = 0; printf("Peer p%d reads\n", i) }
	od
}

/*
 * The Acceptor (acceptor.run, acceptAll, admit, worker.dispatch): accept4
 * of the next peer on the lowest free fd, numbered, pushed and notified
 * (Accept, then the hand-off's push and notify, in one atomic step); or
 * rejected at MAXCONNS (Drop); or EMFILE, which takes the listeners out until
 * an fd is free. Once stopping it may return between any two accepts.
 */
proctype Acceptor() {
	byte c, f, i, j;
end_acc:
	do
	:: d_step { apc == A_RUN && stopped -> apc = A_EXIT; printf("Exit a=0\n") }
	:: d_step { apc == A_RUN && apaused && FDFREE -> apaused = 0; printf("Rearm a=0\n") }
	:: d_step { apc == A_RUN && !apaused && connected > taken && !FDFREE -> apaused = 1; printf("Emfile a=0\n") }
#if MAXCONNS > 0
	:: d_step { apc == A_RUN && !apaused && connected > taken && FDFREE && nopen >= MAXCONNS ->
		for (i : 0 .. NF - 1) { if :: f == 0 && fdt[i] == 0 -> f = i + 1 :: else fi };
		c = taken; taken++; pphase[c] = P_ACCEPTED;
		close_socket(c);
		printf("Drop a=0 fd=%d why=maxconns\n", f);
		c = 0; f = 0; i = 0 }
#endif
	:: atomic { apc == A_RUN && !apaused && connected > taken && FDFREE && (MAXCONNS == 0 || nopen < MAXCONNS) ->
		d_step {
			for (i : 0 .. NF - 1) { if :: f == 0 && fdt[i] == 0 -> f = i + 1 :: else fi };
			c = nconns; nconns++;
			i = taken; taken++;
			pphase[i] = P_ACCEPTED; pconn[i] = c + 1;
			fdt[f - 1] = i + 1;
			nopen++;
			cphase[c] = C_QUEUED; cpeer[c] = i; cfd[c] = f;
			printf("Accept a=0 c=%d fd=%d\n", c, f);
			i = 0; f = 0
		};
		push(0, 0, c);
		notify(0, 0);
		c = 0 }
	od
}

/*
 * The other goroutine (Conn.AsyncWrite, Conn.Wake, owner.addTask): takes the
 * handle of any connection ever registered (it may be stale), tests its gone
 * flag, then under the list's lock appends the task unless the list is
 * closed and, if no kick is pending, sets pending and kicks the eventfd
 * before it unlocks.
 */
#define HANDLE(k) :: d_step { aspc == AS_IDLE && made < NT && k < nconns && cgen[k] > 0 -> \
		asconn = k; asgen = cgen[k]; aswake = (WAKE_FIRST && made == 0); made++; aspc = AS_CHECK; \
		printf("Handle call=%d c=%d g=%d\n", made - 1, k, cgen[k]) }
proctype Async() {
	byte id;
end_async:
	do
	HANDLE(0)
#if NC > 1
	HANDLE(1)
#endif
#if NC > 2
	HANDLE(2)
#endif
#if NC > 3
	HANDLE(3)
#endif
	:: d_step { aspc == AS_CHECK && cphase[asconn] == C_CLOSED ->
		printf("Gone c=%d: ErrClosed\n", asconn); fate[made - 1] = T_REFUSED; aspc = AS_IDLE; asconn = 0; asgen = 0; aswake = 0 }
	:: d_step { aspc == AS_CHECK && cphase[asconn] != C_CLOSED -> aspc = AS_SUBMIT; printf("Check c=%d: not gone\n", asconn) }
	:: d_step { aspc == AS_SUBMIT && tclosed -> fate[made - 1] = T_REFUSED; aspc = AS_IDLE; asconn = 0; asgen = 0; aswake = 0; printf("Refused: ErrClosed\n") }
	:: d_step { aspc == AS_SUBMIT && !tclosed ->
		id = made - 1;
		lid[nlist] = id; lconn[nlist] = asconn; lgenof[nlist] = asgen; lwake[nlist] = aswake; nlist++;
		fate[id] = T_LISTED;
		printf("Submit w=0 c=%d g=%d n=%d\n", asconn, asgen, 1 - aswake);
		if
		:: pending -> aspc = AS_IDLE
		:: else -> pending = 1; locked = 1; aspc = AS_KICK
		fi;
		if
		:: aspc == AS_IDLE -> asconn = 0; asgen = 0; aswake = 0
		:: else
		fi;
		id = 0 }
	:: d_step { aspc == AS_KICK -> kicked = 1; locked = 0; aspc = AS_IDLE; asconn = 0; asgen = 0; aswake = 0; printf("Kick w=0\n") }
	od
}

/*
 * Shutdown (Server.Serve after its wait): Stop; once the Acceptor returned,
 * the stop flag and a kick under the task list's lock (worker.stop); once
 * the Worker returned, Done, where P7 is checked. bug-shutdown-early does not
 * wait for the Worker.
 */
#ifdef FAULT_SHUTDOWN_EARLY
#define WORKER_DONE 1
#else
#define WORKER_DONE (wpc == W_EXIT)
#endif
proctype Server() {
	byte k, i;
	d_step { srv == S_SERVING -> stopped = 1; srv = S_JOINA; printf("Stop acceptors told to return\n") };
	d_step { srv == S_JOINA && apc == A_EXIT && !locked ->
		stopflag = 1;
		if
		:: !tclosed -> kicked = 1
		:: else
		fi;
		srv = S_JOINW; printf("Kick w=0 (stop)\n") };
	d_step { srv == S_JOINW && WORKER_DONE ->
		srv = S_DONE;
		printf("Done Shutdown returns\n");
		for (k : 0 .. NC - 1) {
			if
			:: k < nconns ->
				P7_clean_shutdown = (cphase[k] != C_OPEN && (cphase[k] != C_CLOSED || conclose[k] == 1) && cfdclosed[k]);
				assert(P7_clean_shutdown)
			:: else
			fi
		};
		for (i : 0 .. NF - 1) { P7_clean_shutdown = (fdt[i] == 0); assert(P7_clean_shutdown) };
		P7_clean_shutdown = (apc == A_EXIT && wpc == W_EXIT);
		assert(P7_clean_shutdown);
		k = 0; i = 0 }
}

/* The Worker's conn-slot macros: take slot k's event from the batch (Next),
 * close connection k when idle. */
#define NEXTC(k) :: d_step { wpc == W_NEXT && bconn[k] -> \
		evfd = bfd[k]; evgen = bgen[k]; evin = bin[k]; evout = bout[k]; everr = berr[k]; \
		bconn[k] = 0; bfd[k] = 0; bgen[k] = 0; bin[k] = 0; bout[k] = 0; berr[k] = 0; \
		wpc = W_READY; printf("Next w=0 fd=%d g=%d\n", evfd, evgen) }
#define IDLEC(k) :: d_step { wpc == W_POLL && k < nconns && cphase[k] == C_OPEN -> \
		wconn = k; wctx = CTX_IDLE; finalize(CAUSE_IDLE); printf("Idle w=0 c=%d\n", k) }

#ifdef FAULT_ADD_LEAK
#define ADD_FAIL_CLOSE(k) skip
#else
#define ADD_FAIL_CLOSE(k) check_fd_close(k); cfdclosed[k] = 1; close_socket(cpeer[k])
#endif
#ifdef FAULT_NO_TASK_GEN
#define TASK_TARGET onfd(cfd[tkconn[tnext]]); t = c; c = 0
#else
#define TASK_TARGET if :: cphase[tkconn[tnext]] == C_OPEN -> t = tkconn[tnext] :: else -> t = NOC fi
#endif
#ifdef FAULT_SHUT_FORGETS
#define SHUT_FORGETS 1
#else
#define SHUT_FORGETS 0
#endif

#ifdef FAULT_NO_EVENT_GEN
#define EVENT_STALE(c) (c == NOC)
#else
#define EVENT_STALE(c) (c == NOC || cgen[c] != evgen)
#endif

/*
 * The Worker (worker.run and below), one step per option, as model/'s
 * workerSteps and connSteps.
 */
proctype Worker() {
	byte c, i, j, t, p, offer, used, pos, sent, u, n;
	bit got, loop, inw, outw;
end_poll:
	do
	/* epoll_wait returns a batch (level-triggered) */
	:: d_step { wpc == W_POLL && READY_ANY ->
		bnotify = (PENDING(0) > 0);
		btasks = kicked;
		for (i : 0 .. NC - 1) {
			if
			:: CONN_READY(i) -> bconn[i] = 1; bfd[i] = cfd[i]; bgen[i] = cgen[i]; bin[i] = IN_READY(i); bout[i] = OUT_READY(i); berr[i] = ERR_READY(i)
			:: else
			fi
		};
		i = 0;
		wpc = W_NEXT;
		printf("Poll w=0\n") }
#ifdef IDLE
	IDLEC(0)
#if NC > 1
	IDLEC(1)
#endif
#if NC > 2
	IDLEC(2)
#endif
#if NC > 3
	IDLEC(3)
#endif
#endif
	/* the batch: end it (and read the stop flag), or take an event */
	:: d_step { wpc == W_NEXT && !BATCH_ANY ->
		if
		:: stopflag -> wpc = W_SHUTQUEUE; wshut = 1
		:: else -> wpc = W_POLL
		fi;
		printf("Batchend w=0\n") }
	:: d_step { wpc == W_NEXT && bnotify -> bnotify = 0; wpc = W_WAKE; printf("Next w=0 notify\n") }
	:: d_step { wpc == W_NEXT && btasks -> btasks = 0;
#ifdef FAULT_RESET_AFTER_SWAP
		wpc = W_SWAP;
#else
		wpc = W_RESET;
#endif
		printf("Next w=0 tasks\n") }
	NEXTC(0)
#if NC > 1
	NEXTC(1)
#endif
#if NC > 2
	NEXTC(2)
#endif
#if NC > 3
	NEXTC(3)
#endif
	/* the notify event: Wake, then a pop and a registration per token */
	:: atomic { wpc == W_WAKE -> wake(0, n); wpc = W_POPNEXT }
	:: atomic { wpc == W_POPNEXT && hand[0] > 0 && q[0].n > 0 ->
		pop(0, c, got, true); wconn = c; cphase[c] = C_POPPED; wpc = W_ADD; c = 0; got = 0 }
	:: d_step { wpc == W_ADD ->
		lgen++; cgen[wconn] = lgen; cphase[wconn] = C_OPEN; creadon[wconn] = 1;
		printf("Register w=0 c=%d fd=%d g=%d\n", wconn, cfd[wconn], lgen);
		wconn = NOC; wpc = W_POPNEXT; advance() }
#ifdef CTLFAIL
	:: d_step { wpc == W_ADD ->
		cphase[wconn] = C_DROPPED;
		ADD_FAIL_CLOSE(wconn);
		nopen--;
		printf("Drop w=0 c=%d fd=%d why=epoll\n", wconn, cfd[wconn]);
		wconn = NOC; wpc = W_POPNEXT; advance() }
#endif
	/* the task eventfd and the list (worker.onTasks, runTasks) */
	:: d_step { wpc == W_RESET -> kicked = 0;
#ifdef FAULT_RESET_AFTER_SWAP
		wpc = W_RUN;
#else
		wpc = W_SWAP;
#endif
		printf("Reset w=0\n") }
	:: d_step { (wpc == W_SWAP || wpc == W_SHUTTASKS) && !locked ->
		for (i : 0 .. 1) {
			tkid[i] = lid[i]; tkconn[i] = lconn[i]; tkgen[i] = lgenof[i]; tkwake[i] = lwake[i];
			lid[i] = 0; lconn[i] = 0; lgenof[i] = 0; lwake[i] = 0
		};
		i = 0;
		ntaken = nlist; nlist = 0; tnext = 0; wctx = CTX_TASK;
		printf("Tasks w=0 n=%d\n", ntaken);
		if
		:: wpc == W_SHUTTASKS -> tclosed = 1; wpc = W_RUN
#if defined(FAULT_RESET_AFTER_SWAP)
		:: else -> pending = 0; wpc = W_RESET
#elif defined(FAULT_CLEAR_AFTER_RUN)
		:: else -> wpc = W_RUN
#else
		:: else -> pending = 0; wpc = W_RUN
#endif
		fi }
	:: d_step { wpc == W_RUN && tnext == ntaken ->
		for (i : 0 .. 1) { tkid[i] = 0; tkconn[i] = 0; tkgen[i] = 0; tkwake[i] = 0 };
		i = 0;
		ntaken = 0; tnext = 0; wctx = CTX_EVENT;
		if
#ifdef FAULT_CLEAR_AFTER_RUN
		:: !wshut -> wpc = W_CLEAR
#endif
		:: wshut -> wpc = W_SHUTCONN
		:: else -> wpc = W_NEXT
		fi;
		printf("Tasksdone w=0\n") }
	:: d_step { wpc == W_RUN && tnext < ntaken ->
		TASK_TARGET;
		if
		:: t == NOC ->
			fate[tkid[tnext]] = T_DROPPED;
			P8_no_lost_task = (cphase[tkconn[tnext]] != C_OPEN);
			assert(P8_no_lost_task);
			printf("Droptask w=0 c=%d\n", tkconn[tnext])
		:: else ->
			fate[tkid[tnext]] = T_RAN;
			P6_close_before_reuse = (t == tkconn[tnext] && cgen[t] == tkgen[tnext]);
			assert(P6_close_before_reuse);
			printf("Run w=0 c=%d g=%d\n", tkconn[tnext], tkgen[tnext]);
			wconn = t; wctx = CTX_TASK;
			if
			:: !tkwake[tnext] -> write(t, 1); wpc = W_SETTLE
			:: tkwake[tnext] && cheld[t] > 0 -> wfresh = 0; wafter = W_SETTLE; wpc = W_DELIVER
			:: else -> write(t, 1); wpc = W_SETTLE
			fi
		fi;
		tnext++;
		t = 0;
		advance() }
#ifdef FAULT_CLEAR_AFTER_RUN
	:: d_step { wpc == W_CLEAR && !locked -> pending = 0; wpc = W_NEXT; printf("Clear w=0\n") }
#endif
	/* a connection's event (worker.onEvent, onConnEvent) */
	:: d_step { wpc == W_READY ->
		onfd(evfd);
		if
		:: EVENT_STALE(c) -> wpc = W_NEXT; printf("Stale w=0 fd=%d g=%d\n", evfd, evgen);
			evfd = 0; evgen = 0; evin = 0; evout = 0; everr = 0
		:: else ->
			P6_close_before_reuse = (cgen[c] == evgen);
			assert(P6_close_before_reuse);
			printf("Ready w=0 c=%d fd=%d g=%d\n", c, evfd, evgen);
			wconn = c; wctx = CTX_EVENT; wpc = W_FLUSH; advance()
		fi;
		c = 0 }
	:: d_step { wpc == W_FLUSH ->
		p = cpeer[wconn];
		if
		:: prst[p] -> finalize(CAUSE_RESET); printf("Sendfail w=0 c=%d: EPIPE\n", wconn)
		:: else ->
			sent = SNDBUF - ptx[p];
			if
			:: sent > cout[wconn] -> sent = cout[wconn]
			:: else
			fi;
			cout[wconn] = cout[wconn] - sent;
			ptx[p] = ptx[p] + sent;
			printf("Send w=0 c=%d n=%d\n", wconn, sent);
			wpc = W_READ;
			if
			:: cheld[wconn] > 0 && cout[wconn] < MAXOUT && !cclosing[wconn] -> wfresh = 0; wafter = W_READ; wpc = W_DELIVER
			:: else
			fi;
			advance()
		fi;
		p = 0; sent = 0 }
	:: d_step { wpc == W_READ ->
		P9_output_integrity = (cout[wconn] < MAXOUT);
		assert(P9_output_integrity);
		p = cpeer[wconn];
		if
		:: prst[p] -> cerr[wconn] = CAUSE_RESET; wpc = W_SETTLE; printf("Readfail w=0 c=%d: ECONNRESET\n", wconn); advance()
		:: !prst[p] && prx[p] > 0 ->
			crecv[wconn] = crecv[wconn] + prx[p]; wfresh = prx[p]; prx[p] = 0;
			wafter = W_SETTLE; wpc = W_DELIVER;
			printf("Read w=0 c=%d n=%d\n", wconn, wfresh)
		:: !prst[p] && prx[p] == 0 && pfin[p] ->
			crdclosed[wconn] = 1;
#ifdef FAULT_HALFCLOSE_DROPS
			cheld[wconn] = 0;
#endif
			wpc = W_SETTLE;
			printf("Read w=0 c=%d n=0\n", wconn);
			advance()
		:: else -> wpc = W_SETTLE; printf("Readagain w=0 c=%d: EAGAIN\n", wconn); advance()
		fi;
		p = 0 }
	:: d_step { wpc == W_DELIVER ->
		offer = cheld[wconn] + wfresh;
		P6_close_before_reuse = (cphase[wconn] == C_OPEN);
		assert(P6_close_before_reuse);
		P10_input_integrity = (offer == crecv[wconn] - cused[wconn]);
		assert(P10_input_integrity);
		if
		:: crdclosed[wconn] && offer == crecv[wconn] - cused[wconn] -> cshown[wconn] = 1
		:: else
		fi;
		handler(wconn);
		printf("Data w=0 c=%d n=%d consumed=%d\n", wconn, offer, used);
		wfresh = 0;
		wpc = wafter;
		wafter = 0;
		offer = 0; used = 0;
		advance() }
#ifdef CTLFAIL
	:: d_step { wpc == W_MOD ->
		creadon[wconn] = WANT_IN(wconn); cwriteon[wconn] = (cout[wconn] > 0);
		printf("Mod w=0 c=%d\n", wconn);
		ret(); advance() }
	:: d_step { wpc == W_MOD -> finalize(CAUSE_EPOLL); printf("Modfail w=0 c=%d\n", wconn) }
#endif
	/* finalize: OnClose, close(2) */
	:: d_step { wpc == W_ONCLOSE ->
		P6_close_before_reuse = (conclose[wconn] == 0 && !cfdclosed[wconn] && fdt[cfd[wconn] - 1] == cpeer[wconn] + 1);
		assert(P6_close_before_reuse);
		P9_output_integrity = !((wwhy == CAUSE_HANDLER || wwhy == CAUSE_EOF) && cout[wconn] > 0);
		assert(P9_output_integrity);
		P10_input_integrity = !(wwhy == CAUSE_EOF && cused[wconn] != crecv[wconn] && !cshown[wconn]);
		assert(P10_input_integrity);
		cphase[wconn] = C_CLOSED; conclose[wconn]++; cwhy[wconn] = wwhy;
		if
		:: cout[wconn] > 0 -> clost[wconn] = 1
		:: else
		fi;
		printf("Onclose w=0 c=%d why=%d\n", wconn, wwhy);
#ifdef FAULT_CLOSE_FIRST
		cout[wconn] = 0; cheld[wconn] = 0;
		ret();
#else
		wpc = W_CLOSE;
#endif
		advance() }
	:: d_step { wpc == W_CLOSE ->
		check_fd_close(wconn);
		cfdclosed[wconn] = 1;
		close_socket(cpeer[wconn]);
		nopen--;
		printf("Close w=0 c=%d fd=%d g=%d why=%d\n", wconn, cfd[wconn], cgen[wconn], wwhy);
#ifdef FAULT_CLOSE_FIRST
		cphase[wconn] = C_CLOSED;
		wpc = W_ONCLOSE;
#else
		cout[wconn] = 0; cheld[wconn] = 0;
		ret();
#endif
		advance() }
	/* shutdown (worker.shutdown) */
	:: d_step { wpc == W_SHUTQUEUE && (q[0].n == 0 || SHUT_FORGETS) -> wpc = W_SHUTTASKS; printf("Queuedone w=0\n") }
	:: d_step { wpc == W_SHUTQUEUE && q[0].n > 0 && !SHUT_FORGETS ->
		c = q[0].v[q[0].head];
		q[0].v[q[0].head] = 0;
		q[0].head++;
		q[0].n--;
		wpop[0]++;
		cphase[c] = C_DROPPED;
		check_fd_close(c);
		cfdclosed[c] = 1;
		close_socket(cpeer[c]);
		nopen--;
		printf("Drop w=0 c=%d fd=%d why=shutdown\n", c, cfd[c]);
		c = 0 }
	:: d_step { wpc == W_SHUTCONN ->
		c = NOC;
		for (i : 0 .. NC - 1) {
			if
			:: c == NOC && i < nconns && cphase[i] == C_OPEN -> c = i
			:: else
			fi
		};
		i = 0;
		if
		:: c == NOC -> wpc = W_EXIT; printf("Exit w=0\n")
		:: else ->
			wconn = c; wctx = CTX_SHUT;
			if
			:: cerr[c] == CAUSE_NONE && cout[c] > 0 -> wpc = W_SHUTFLUSH
			:: else -> finalize(CAUSE_SHUTDOWN)
			fi;
			printf("Shutconn w=0 c=%d\n", c)
		fi;
		c = 0 }
	:: d_step { wpc == W_SHUTFLUSH ->
		p = cpeer[wconn];
		if
		:: !prst[p] ->
			sent = SNDBUF - ptx[p];
			if
			:: sent > cout[wconn] -> sent = cout[wconn]
			:: else
			fi;
			cout[wconn] = cout[wconn] - sent;
			ptx[p] = ptx[p] + sent
		:: else
		fi;
		printf("Send w=0 c=%d n=%d (at shutdown)\n", wconn, sent);
		finalize(CAUSE_SHUTDOWN);
		p = 0; sent = 0 }
	:: wpc == W_EXIT -> break
	od
}

/* Where no process can move (model/'s quiescent): nothing left queued (P4),
 * no fd open that no live connection owns (P5), no call that returned nil
 * whose task never ran nor was dropped (P8), every peer whose connection did
 * not fail received all that was written to it (P9), no open connection
 * holding input it is never offered again (P10). */
#define LIVE(k) (cphase[k] == C_QUEUED || cphase[k] == C_POPPED || cphase[k] == C_OPEN)
#define FAILED(k) (clost[k] || prst[cpeer[k]] || pkilled[cpeer[k]] || \
	cphase[k] == C_CLOSED && cwhy[k] != CAUSE_HANDLER && cwhy[k] != CAUSE_EOF && cwhy[k] != CAUSE_SHUTDOWN)
active proctype LifeQuiescence() {
	byte i, o;
end_quiescence:
	timeout ->
	d_step {
		P4_no_lost_wakeup = (q[0].n == 0);
		assert(P4_no_lost_wakeup);
		for (i : 0 .. NF - 1) {
			o = fdt[i];
			P5_no_fd_leak = (o == 0 || pconn[o - 1] > 0 && LIVE(pconn[o - 1] - 1));
			assert(P5_no_fd_leak)
		};
		for (i : 0 .. 1) {
			P8_no_lost_task = (fate[i] != T_LISTED);
			assert(P8_no_lost_task)
		};
		for (i : 0 .. NC - 1) {
			if
			:: i < nconns ->
				P9_output_integrity = !((cphase[i] == C_OPEN || cphase[i] == C_CLOSED) && !FAILED(i) && pgot[cpeer[i]] != cwrote[i]);
				assert(P9_output_integrity);
				P10_input_integrity = !(cphase[i] == C_OPEN && !cclosing[i] && cheld[i] > 0);
				assert(P10_input_integrity)
			:: else
			fi
		}
	}
}

#ifdef LTL_P8
/* P8, liveness: every call that returned nil (its task listed) is
 * eventually run or dropped, under weak fairness (pan -a -f). */
ltl p8 { [] ((fate[0] == T_LISTED) -> <> (fate[0] != T_LISTED)) && [] ((fate[1] == T_LISTED) -> <> (fate[1] != T_LISTED)) }
#endif

init {
	byte i;
	atomic {
		wconn = NOC;
		for (i : 0 .. NC - 1) {
			run Peer(i)
		}
		run Acceptor();
		run Worker();
#if NT > 0
		run Async();
#endif
#ifdef SHUTDOWN
		run Server();
#endif
		i = 0
	}
}
#endif

/* ---------------------------------------------------------------- checks */

/* P1, state form: a queue holds exactly the connections pushed onto it and
 * not yet popped (none lost, none duplicated). */
#define QUEUE_EXACT(w) (q[w].n == wpush[w] - wpop[w])

/* P4, state form: a Worker asleep beside a non-empty queue has a token
 * pending, or an Acceptor that pushed is still to write one. */
#ifdef LIFE
/* the lifecycle Worker is in epoll_wait when its program counter says so */
#define AWAKE_OR_TOKEN(w) (q[w].n == 0 || wpc != W_POLL || PENDING(w) > 0 || inflight[w] > 0)
#else
#define AWAKE_OR_TOKEN(w) (q[w].n == 0 || !waiting[w] || PENDING(w) > 0 || inflight[w] > 0)
#endif

/* The inductive invariants of SPEC.md's argument, per design. */
#if defined(LIFE)
/* as memcached's, until the Worker shuts down and closes what is queued
 * without spending tokens */
#define LEMMA(w) (wshut || q[w].n == PENDING(w) + hand[w] + inflight[w])
#elif defined(PER_TOKEN)
/* every queued connection is matched by one token: pending, in the worker's
 * hand, or about to be written */
#define LEMMA(w) (q[w].n == PENDING(w) + hand[w] + inflight[w])
#elif defined(MSGRING)
/* the CQ holds no more than it can, and the kernel no more than its
 * overflow list: a post beyond both fails instead */
#define LEMMA(w) (cq[w] <= q[w].n && cq[w] <= PIPECAP && q[w].n <= PIPECAP + OVERFLOW)
#elif defined(COALESCED)
/* the flag is set exactly when one token is pending, about to be written, or
 * read and not yet answered by a clear; and a worker whose last Pop found the
 * queue empty has a token coming for anything pushed since */
#define LEMMA(w) (flag[w] == PENDING(w) + armed[w] + woke[w] && \
	(!idle[w] || q[w].n == 0 || PENDING(w) + inflight[w] > 0))
#else
/* a worker whose last Pop found the queue empty has a token pending or coming
 * for everything pushed since */
#define LEMMA(w) (!idle[w] || q[w].n <= PENDING(w) + inflight[w])
#endif

#ifdef LEMMAS
#define INVARIANTS (ALLW(QUEUE_EXACT) && ALLW(AWAKE_OR_TOKEN) && ALLW(LEMMA))
#else
#define INVARIANTS (ALLW(QUEUE_EXACT) && ALLW(AWAKE_OR_TOKEN))
#endif

/* The Monitor waits for a state in which a global invariant fails; pan runs
 * it in every reachable state. -DNO_MONITOR leaves P4 to the quiescence
 * check, the form model/ checks (its counterexamples then compare). */
#ifndef NO_MONITOR
active proctype Monitor() {
end_monitor:
	atomic {
		!INVARIANTS ->
		P1_exactly_once = ALLW(QUEUE_EXACT);
		assert(P1_exactly_once);
		P4_no_lost_wakeup = ALLW(AWAKE_OR_TOKEN);
		assert(P4_no_lost_wakeup);
#ifdef LEMMAS
		lemma = ALLW(LEMMA);
		assert(lemma)
#endif
	}
}
#endif

#ifndef LIFE
/* Quiescence: when no process can move, every connection was accepted and
 * registered (P1: none lost; P4: no worker asleep beside a queued one). */
#define QUEUE_EMPTY(w) (q[w].n == 0)
active proctype Quiescence() {
end_quiescence:
	timeout ->
	d_step {
		/* msgring: a backlog left is an Acceptor's lost wake-up, its
		 * multishot accept ended and not submitted again */
		P4_no_lost_wakeup = ALLW(QUEUE_EMPTY) && nextc == NC;
		assert(P4_no_lost_wakeup);
		P1_exactly_once = (nextc == NC && nreg == NC);
		assert(P1_exactly_once)
	}
}

#ifdef LTL_P4
/* P4, liveness: every connection is eventually registered. The acceptors
 * accept all NC, so this is "every dispatched fd is eventually registered"
 * for each of them; a run that stops short (a lost wake-up, an acceptor stuck
 * on a full pipe) stutters in a state where it is false. */
ltl p4 { <> (nreg == NC) }
#endif

init {
	byte i;
	atomic {
		for (i : 0 .. NW - 1) {
			waiting[i] = 1;
			run Worker(i)
		}
		for (i : 0 .. NA - 1) {
			run Acceptor(i)
		}
		i = 0
	}
}
#endif

