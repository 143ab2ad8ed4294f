package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// issuePart is one script's share of an Issue: its windows, locks, slot
// operations, and the code when its subject is the code's.
type issuePart struct {
	g              *group
	windows, locks []int // indexes into the request's
	ops            []storage.Op
	code           bool
}

// Issue implements storage.Store.
func (s *Store) Issue(ctx context.Context, r storage.IssueRequest) (storage.IssueResult, error) {
	ctx, cancel := withDeadline(ctx, r.Deadline)
	defer cancel()
	gs := s.newGroups()
	parts := splitIssue(r, gs)
	if r.Once && len(gs.order) > 1 {
		return s.issueOnce(ctx, r, gs, parts)
	}
	res, err := s.issueParts(ctx, r, gs, parts, gs.order)
	if err == nil && res.Full < 0 && !res.Duplicate && !r.DryRun && len(r.Shared) > 0 {
		s.lag.Write(storage.WriteRequest{Shared: r.Shared})
	}
	return res, err
}

// splitIssue divides an Issue into one part per subject.
func splitIssue(r storage.IssueRequest, gs *groups) map[string]*issuePart {
	parts := map[string]*issuePart{}
	part := func(key string) *issuePart {
		g, subj := gs.of(key)
		p, ok := parts[subj]
		if !ok {
			p = &issuePart{g: g}
			parts[subj] = p
		}
		return p
	}
	if r.Code.Key != "" {
		part(r.Code.Key).code = true
	}
	for i, w := range r.Windows {
		p := part(w.Key)
		p.windows = append(p.windows, i)
	}
	for i, w := range r.Locks {
		p := part(w.Key)
		p.locks = append(p.locks, i)
	}
	for _, op := range r.Writes {
		p := part(op.Key)
		p.ops = append(p.ops, op)
	}
	return parts
}

// issueOnce runs an Issue with Once on a sharded Redis: a duplicate must
// change nothing anywhere, so the code's subject answers first.
func (s *Store) issueOnce(ctx context.Context, r storage.IssueRequest, gs *groups, parts map[string]*issuePart) (storage.IssueResult, error) {
	codeSubject := storage.Subject(r.Code.Key)
	res, err := s.issueParts(ctx, r, gs, parts, []string{codeSubject})
	if err != nil || res.Duplicate || res.Full >= 0 {
		return res, err
	}
	var rest []string
	for _, subj := range gs.order {
		if subj != codeSubject {
			rest = append(rest, subj)
		}
	}
	res2, err := s.issueParts(ctx, r, gs, parts, rest)
	if err == nil && res2.Full >= 0 {
		s.compensate(ctx, r, gs, parts, []string{codeSubject})
	}
	res2.NextAfter = max(res2.NextAfter, res.NextAfter)
	if err == nil && res2.Full < 0 && len(r.Shared) > 0 {
		s.lag.Write(storage.WriteRequest{Shared: r.Shared})
	}
	return res2, err
}

// issueParts runs the Issue scripts of subjects in one pipeline, and takes
// back those that applied when another refused.
func (s *Store) issueParts(ctx context.Context, r storage.IssueRequest, gs *groups, parts map[string]*issuePart, subjects []string) (storage.IssueResult, error) {
	pipe := s.client.Pipeline()
	held := s.pendingCmds(ctx, pipe)
	cmds := make([]*redis.Cmd, len(subjects))
	for i, subj := range subjects {
		p := parts[subj]
		cmds[i] = issueScript.Run(ctx, pipe, p.g.keys, s.issueArgs(r, p)...)
	}
	if _, err := s.exec(ctx, pipe, held); err != nil && firstErr(cmdsOf(cmds)) == nil {
		return storage.IssueResult{}, stepError("issue", err)
	}
	res := storage.IssueResult{Full: -1}
	var applied []string
	for i, cmd := range cmds {
		ok, err := readIssue(&res, cmd, parts[subjects[i]])
		if err != nil {
			return storage.IssueResult{}, stepError("issue", err)
		}
		if ok && !r.DryRun {
			applied = append(applied, subjects[i])
		}
	}
	if res.Duplicate || res.Full >= 0 {
		s.compensate(ctx, r, gs, parts, applied)
		if res.Duplicate {
			return storage.IssueResult{Full: -1, Duplicate: true}, nil
		}
		res.NextAfter = 0
	}
	return res, nil
}

// issueArgs are the Issue script's arguments for part p of r.
func (s *Store) issueArgs(r storage.IssueRequest, p *issuePart) []any {
	args := []any{unixMilli(r.Now), unixMilli(r.Deadline), r.EventID, boolArg(r.DryRun), boolArg(r.Once), 0, "", "", 0, 0, 0, ""}
	if p.code {
		c := r.Code
		args[5] = p.g.at(s, c.Key)
		args[6], args[7], args[8], args[9], args[10], args[11] = c.MAC, c.KeyID, unixMilli(c.ExpiresAt), unixMilli(c.KeepUntil), c.MaxAttempts, c.Data
	}
	args = s.windowArgs(args, p.g, pick(r.Windows, p.windows))
	args = s.windowArgs(args, p.g, pick(r.Locks, p.locks))
	return s.opArgs(args, p.g, r.Now, p.ops)
}

// readIssue adds part p's answer to res, and reports whether the part
// applied.
func readIssue(res *storage.IssueResult, cmd *redis.Cmd, p *issuePart) (bool, error) {
	v, err := cmd.Result()
	if err != nil {
		return false, err
	}
	got, err := ints(v)
	if err != nil {
		return false, err
	}
	switch {
	case len(got) == 1 && got[0] == -2:
		res.Duplicate = true
	case len(got) == 3 && got[0] >= 0:
		full, wait, locked := int(got[0]), time.Duration(got[1])*time.Millisecond, got[2] == 1
		global := pickIndex(p.windows, full)
		if locked {
			global = pickIndex(p.locks, full)
		}
		if res.Full < 0 || wait > res.RetryAfter {
			res.Full, res.RetryAfter, res.Locked = global, wait, locked
		}
	case len(got) == 2:
		res.NextAfter = max(res.NextAfter, time.Duration(got[1])*time.Millisecond)
		return true, nil
	default:
		return false, fmt.Errorf("the script answered %v", got)
	}
	return false, nil
}

// compensate takes back the parts of an Issue that applied when another
// part refused it, on a sharded Redis: their events, their code and their
// counts.
func (s *Store) compensate(ctx context.Context, r storage.IssueRequest, gs *groups, parts map[string]*issuePart, subjects []string) {
	if len(subjects) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	pipe := s.client.Pipeline()
	for _, subj := range subjects {
		p := parts[subj]
		code := ""
		if p.code {
			code = r.Code.Key
		}
		inverse := make([]storage.Op, 0, len(p.ops))
		for _, op := range p.ops {
			if op.Kind == storage.OpAdd {
				op.Value = -op.Value
				inverse = append(inverse, op)
			}
		}
		s.queueUndo(ctx, pipe, p.g, r.Now, time.Time{}, r.EventID, pick(r.Windows, p.windows), code, inverse)
	}
	if _, err := s.exec(ctx, pipe, nil); err != nil && s.onError != nil {
		s.onError(fmt.Errorf("redisstore: taking back a refused issue: %w", err))
	}
}

// queueUndo queues an Undo script of g's subject.
func (s *Store) queueUndo(ctx context.Context, pipe redis.Pipeliner, g *group, now, deadline time.Time, id string, ws []storage.Window, code string, ops []storage.Op) *redis.Cmd {
	codeIndex := 0
	if code != "" {
		codeIndex = g.at(s, code)
	}
	args := []any{unixMilli(now), unixMilli(deadline), id, codeIndex, len(ws)}
	for _, w := range ws {
		args = append(args, g.at(s, w.Key))
	}
	args = s.opArgs(args, g, now, ops)
	return undoScript.Run(ctx, pipe, g.keys, args...)
}

// Undo implements storage.Store.
func (s *Store) Undo(ctx context.Context, r storage.UndoRequest) error {
	ctx, cancel := withDeadline(ctx, r.Deadline)
	defer cancel()
	gs := s.newGroups()
	type undoPart struct {
		ws   []storage.Window
		ops  []storage.Op
		code string
	}
	parts := map[string]*undoPart{}
	part := func(key string) *undoPart {
		_, subj := gs.of(key)
		p, ok := parts[subj]
		if !ok {
			p = &undoPart{}
			parts[subj] = p
		}
		return p
	}
	if r.Key != "" {
		part(r.Key).code = r.Key
	}
	for _, w := range r.Windows {
		p := part(w.Key)
		p.ws = append(p.ws, w)
	}
	for _, op := range r.Writes {
		p := part(op.Key)
		p.ops = append(p.ops, op)
	}
	pipe := s.client.Pipeline()
	held := s.pendingCmds(ctx, pipe)
	var cmds []*redis.Cmd
	for _, subj := range gs.order {
		p := parts[subj]
		cmds = append(cmds, s.queueUndo(ctx, pipe, gs.bySubj[subj], r.Now, r.Deadline, r.EventID, p.ws, p.code, p.ops))
	}
	if _, err := s.exec(ctx, pipe, held); err != nil {
		if cerr := firstErr(cmdsOf(cmds)); cerr != nil {
			err = cerr
		}
		return stepError("undo", err)
	}
	return nil
}

// Check implements storage.Store.
func (s *Store) Check(ctx context.Context, r storage.CheckRequest) (storage.CheckResult, error) {
	ctx, cancel := withDeadline(ctx, r.Deadline)
	defer cancel()
	codeSubject := storage.Subject(r.Key)
	if r.Take != "" && storage.Subject(r.Take) != codeSubject && !s.single {
		return storage.CheckResult{}, fmt.Errorf("redisstore: check: the taken key %q is not of the code's subject", r.Take)
	}
	var own, other []int // windows of the code's subject, and of others
	for i, w := range r.Windows {
		if s.single || storage.Subject(w.Key) == codeSubject {
			own = append(own, i)
		} else {
			other = append(other, i)
		}
	}
	reserved, res, err := s.reserve(ctx, r, other)
	if err != nil || res != nil {
		return derefCheck(res), err
	}
	out, err := s.checkCode(ctx, r, own)
	if err == nil && out.Outcome == storage.OutcomeMismatch {
		for _, rv := range reserved {
			out.AttemptsLeft = min(out.AttemptsLeft, max(rv.room, 0))
		}
		return out, nil
	}
	s.release(ctx, r, reserved)
	return out, err
}

// reservation is a try counted in another subject's failed-check windows
// before the code is checked.
type reservation struct {
	g    *group
	ws   []storage.Window
	room int // the least room left in its windows, this try counted
}

// reserve counts the try in the failed-check windows of subjects other
// than the code's, first: when one is full, it releases the others and
// answers OutcomeLimited.
func (s *Store) reserve(ctx context.Context, r storage.CheckRequest, idx []int) ([]reservation, *storage.CheckResult, error) {
	if len(idx) == 0 {
		return nil, nil, nil
	}
	gs := s.newGroups()
	per := map[string][]int{}
	for _, i := range idx {
		_, subj := gs.of(r.Windows[i].Key)
		per[subj] = append(per[subj], i)
	}
	pipe := s.client.Pipeline()
	held := s.pendingCmds(ctx, pipe)
	cmds := make([]*redis.Cmd, len(gs.order))
	for j, subj := range gs.order {
		args := s.windowArgs([]any{unixMilli(r.Now), unixMilli(r.Deadline), r.EventID}, gs.bySubj[subj], pick(r.Windows, per[subj]))
		cmds[j] = reserveScript.Run(ctx, pipe, gs.bySubj[subj].keys, args...)
	}
	if _, err := s.exec(ctx, pipe, held); err != nil {
		if cerr := firstErr(cmdsOf(cmds)); cerr != nil {
			err = cerr
		}
		return nil, nil, stepError("check", err)
	}
	var done []reservation
	limited := storage.CheckResult{Outcome: storage.OutcomeLimited, Full: -1}
	for j, subj := range gs.order {
		got, err := ints(cmds[j].Val())
		if err != nil || len(got) == 0 {
			return nil, nil, stepError("check", fmt.Errorf("reserve answered %v", cmds[j].Val()))
		}
		ws := pick(r.Windows, per[subj])
		if got[0] >= 0 {
			wait := time.Duration(got[1]) * time.Millisecond
			if limited.Full < 0 || wait > limited.RetryAfter {
				limited.Full, limited.RetryAfter = pickIndex(per[subj], int(got[0])), wait
			}
			continue
		}
		rv := reservation{g: gs.bySubj[subj], ws: ws, room: 1 << 30}
		for k, w := range ws {
			rv.room = min(rv.room, w.Max-int(got[1+k])-1)
		}
		done = append(done, rv)
	}
	if limited.Full >= 0 {
		s.release(ctx, r, done)
		return nil, &limited, nil
	}
	return done, nil, nil
}

// release takes reserved tries back.
func (s *Store) release(ctx context.Context, r storage.CheckRequest, reserved []reservation) {
	if len(reserved) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	pipe := s.client.Pipeline()
	for _, rv := range reserved {
		s.queueUndo(ctx, pipe, rv.g, r.Now, time.Time{}, r.EventID, rv.ws, "", nil)
	}
	if _, err := s.exec(ctx, pipe, nil); err != nil && s.onError != nil {
		s.onError(fmt.Errorf("redisstore: releasing a reserved try: %w", err))
	}
}

// checkCode runs the check script over the code, the taken key and the
// windows own.
func (s *Store) checkCode(ctx context.Context, r storage.CheckRequest, own []int) (storage.CheckResult, error) {
	g := newGroup()
	args := []any{unixMilli(r.Now), unixMilli(r.Deadline), r.EventID, g.at(s, r.Key), 0, len(r.MACs)}
	if r.Take != "" {
		args[4] = g.at(s, r.Take)
	}
	for _, mac := range r.MACs {
		args = append(args, mac)
	}
	for i := range r.MACs {
		id := ""
		if i < len(r.KeyIDs) {
			id = r.KeyIDs[i]
		}
		args = append(args, id)
	}
	args = s.windowArgs(args, g, pick(r.Windows, own))
	pipe := s.client.Pipeline()
	held := s.pendingCmds(ctx, pipe)
	cmd := checkScript.Run(ctx, pipe, g.keys, args...)
	if _, err := s.exec(ctx, pipe, held); err != nil {
		if cerr := cmd.Err(); cerr != nil {
			err = cerr
		}
		return storage.CheckResult{}, stepError("check", err)
	}
	list, ok := cmd.Val().([]any)
	if !ok || len(list) < 5 {
		return storage.CheckResult{}, stepError("check", fmt.Errorf("the script answered %v", cmd.Val()))
	}
	head, err := ints(list[:4])
	if err != nil {
		return storage.CheckResult{}, stepError("check", err)
	}
	res := storage.CheckResult{Outcome: storage.Outcome(head[0]), AttemptsLeft: int(head[1]), Full: -1,
		RetryAfter: time.Duration(head[3]) * time.Millisecond}
	if res.Outcome == storage.OutcomeLimited {
		res.Full = pickIndex(own, int(head[2]))
	}
	if data, _ := list[4].(string); data != "" && (res.Outcome == storage.OutcomeMatch || res.Outcome == storage.OutcomeMismatch) {
		res.Data = []byte(data)
	}
	if res.Outcome == storage.OutcomeMatch {
		res.Taken = slotsOf(pairs(list[5:]))
	}
	return res, nil
}

// Read implements storage.Store.
func (s *Store) Read(ctx context.Context, r storage.ReadRequest) ([][]storage.Slot, error) {
	ctx, cancel := withDeadline(ctx, r.Deadline)
	defer cancel()
	out := make([][]storage.Slot, len(r.Keys)+len(r.Shared))
	pipe := s.client.Pipeline()
	held := s.pendingCmds(ctx, pipe)
	cmds := make([]redis.Cmder, len(out))
	for i, key := range r.Keys {
		if !r.Take {
			cmds[i] = pipe.HGetAll(ctx, s.rkey(key))
			continue
		}
		args := []any{"take", unixMilli(r.Deadline)}
		for _, idx := range r.Indexes {
			args = append(args, idx)
		}
		cmds[i] = slotsScript.Run(ctx, pipe, []string{s.rkey(key)}, args...)
	}
	for j, key := range r.Shared {
		if slots, ok := s.lag.Cached(key); ok {
			out[len(r.Keys)+j] = slots
			continue
		}
		cmds[len(r.Keys)+j] = pipe.HGetAll(ctx, s.rkey(key))
	}
	if _, err := s.exec(ctx, pipe, held); err != nil {
		if cerr := firstErr(cmdsOf(cmds)); cerr != nil {
			err = cerr
		}
		return nil, stepError("read", err)
	}
	for i, cmd := range cmds {
		switch c := cmd.(type) {
		case *redis.MapStringStringCmd:
			out[i] = slotsOf(c.Val())
		case *redis.Cmd:
			list, _ := c.Val().([]any)
			out[i] = slotsOf(pairs(list))
		}
		if i < len(r.Keys) && r.Indexes != nil {
			out[i] = only(out[i], r.Indexes)
		}
		if i >= len(r.Keys) && cmd != nil {
			out[i] = s.lag.Remember(r.Shared[i-len(r.Keys)], out[i])
		}
	}
	return out, nil
}

// only keeps the slots of indexes.
func only(slots []storage.Slot, indexes []int) []storage.Slot {
	var out []storage.Slot
	for _, sl := range slots {
		for _, i := range indexes {
			if sl.Index == i {
				out = append(out, sl)
			}
		}
	}
	return out
}

// Write implements storage.Store: the operations go with the Store's next
// step, or within a tenth of a second, and shared ones within its lag.
func (s *Store) Write(_ context.Context, r storage.WriteRequest) error {
	s.lag.Write(r)
	return nil
}

// Ping checks that the Store's Redis answers, for a readiness check: a
// service whose store is down sends no code and verifies none, so it
// should leave its load balancer's pool. It returns nil, or an error that
// matches passcode.ErrStoreUnavailable and keeps the client's cause (a
// *net.OpError for a refused connection). Bound it with ctx; with the
// client options docs/stores.md recommends, a Redis that refuses connections
// fails it at once.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w: %w", passcode.ErrStoreUnavailable, err)
	}
	return s.load(ctx)
}

func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pick returns the windows of ws at idx.
func pick(ws []storage.Window, idx []int) []storage.Window {
	out := make([]storage.Window, len(idx))
	for i, j := range idx {
		out[i] = ws[j]
	}
	return out
}

// pickIndex maps a script's window index back to the request's.
func pickIndex(idx []int, i int) int {
	if i >= 0 && i < len(idx) {
		return idx[i]
	}
	return -1
}

func cmdsOf[C redis.Cmder](cmds []C) []redis.Cmder {
	out := make([]redis.Cmder, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, c)
	}
	return out
}

func derefCheck(r *storage.CheckResult) storage.CheckResult {
	if r == nil {
		return storage.CheckResult{}
	}
	return *r
}
