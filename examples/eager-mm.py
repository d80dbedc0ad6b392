#!/usr/bin/env python3
"""An *eager* mm engine over cowcheck's JSON-lines protocol (docs/protocol.md), in Python 3 with the stdlib only.

It gives every process its own copy of every private page it has written and copies them all at fork: its
observations are right (the base mm ops of docs/mm.md: spawn, fork, exit, exec, mmap, munmap, mprotect, madvise,
read, write), but it is no copy-on-write engine. It cannot report its whole state (no "inspect"); it offers the
"counters" view instead and reports honestly what it copied and allocated, so cowcheck's economy check catches it:

    node bin/cowcheck.js run --layer mm --engine 'stdio:python3 examples/eager-mm.py' --runs 200    # fails: economy

With EAGER_MM_HIDE_COUNTERS=1 it does not offer "counters", and passes with the warning that an eager engine would.

Pages nobody wrote are not stored, and a mapping is a run of pages (an extent), so a range op over a window of
2^24 pages costs what is mapped there, never the range.
"""

import json
import os
import sys
from bisect import bisect_right

GEOMETRY = json.loads(os.environ.get("COWCHECK_GEOMETRY") or "{}")
CELLS = GEOMETRY.get("cellsPerPage", 4)
PAGES = GEOMETRY.get("pages", 16)
HIDE_COUNTERS = os.environ.get("EAGER_MM_HIDE_COUNTERS", "") not in ("", "0")

OK = {"ok": True}
SEGV = {"fault": "SEGV"}


def err(errno):
    return {"error": errno}


class Refused(Exception):
    """An op this engine does not implement: its own failure (ok: false), never an observation."""


class Extent:
    """A run of mapped pages [start, end) with the same attributes; `shared` is the shmem object it maps, if any."""

    __slots__ = ("start", "end", "prot", "dontfork", "wipeonfork", "shared", "obj_start")

    def __init__(self, start, end, prot, shared, obj_start=0, dontfork=False, wipeonfork=False):
        self.start, self.end, self.prot = start, end, prot
        self.shared, self.obj_start = shared, obj_start
        self.dontfork, self.wipeonfork = dontfork, wipeonfork

    def copy(self, start=None):
        start = self.start if start is None else start
        return Extent(
            start,
            self.end,
            self.prot,
            self.shared,
            self.obj_start + (start - self.start),
            self.dontfork,
            self.wipeonfork,
        )


class Space:
    """A process's address space: its extents (sorted, disjoint) and the private pages it has written."""

    def __init__(self):
        self.extents = []
        self.own = {}

    def after(self, page):
        """The index of the first extent ending after `page`."""
        return bisect_right([e.end for e in self.extents], page)

    def extent_at(self, page):
        i = self.after(page)
        if i < len(self.extents) and self.extents[i].start <= page:
            return self.extents[i]
        return None

    def split(self, page):
        i = self.after(page)
        if i < len(self.extents) and self.extents[i].start < page:
            e = self.extents[i]
            self.extents.insert(i + 1, e.copy(page))
            e.end = page

    def drop_own(self, start, end):
        for p in [p for p in self.own if start <= p < end]:
            del self.own[p]

    def unmap(self, start, end):
        self.split(start)
        self.split(end)
        lo = self.after(start)
        hi = lo
        while hi < len(self.extents) and self.extents[hi].start < end:
            hi += 1
        del self.extents[lo:hi]
        self.drop_own(start, end)


class EagerMm:
    def __init__(self):
        self.procs = {}
        # the counters view (docs/protocol.md): cumulative since the sequence began
        self.pages_copied = 0
        self.pages_allocated = 0

    def new_page(self, source=None):
        self.pages_allocated += 1
        if source is None:
            return bytearray(CELLS)
        self.pages_copied += 1
        return bytearray(source)

    def add_proc(self, space):
        pid = 1
        while pid in self.procs:
            pid += 1
        self.procs[pid] = space
        return pid

    def view(self, space, e, page):
        if e.shared is not None:
            return e.shared.get(e.obj_start + page - e.start) or bytearray(CELLS)
        return space.own.get(page) or bytearray(CELLS)

    def storage(self, space, e, page):
        """Where a write goes: the shared object's page, or the process's own page (allocated on first write)."""
        if e.shared is not None:
            at = e.obj_start + page - e.start
            if at not in e.shared:
                e.shared[at] = self.new_page()
            return e.shared[at]
        if page not in space.own:
            space.own[page] = self.new_page()
        return space.own[page]

    def apply(self, op):
        kind = op["op"]
        if kind == "spawn":
            return {"pid": self.add_proc(Space())}
        if kind not in ("fork", "exit", "exec", "mmap", "munmap", "mprotect", "madvise", "read", "write"):
            raise Refused(f"op {kind} needs a feature this engine does not offer")
        space = self.procs.get(op["pid"])
        if space is None:
            return err("ESRCH")
        if kind == "fork":
            child = Space()
            child.extents = [e.copy() for e in space.extents if not e.dontfork]
            for page, data in space.own.items():
                e = space.extent_at(page)
                if not e.dontfork and not e.wipeonfork and e.shared is None:
                    child.own[page] = self.new_page(data)  # the eager part: every written page copied now
            return {"pid": self.add_proc(child)}
        if kind == "exit":
            del self.procs[op["pid"]]
            return OK
        if kind == "exec":
            space.extents = []
            space.own = {}
            return OK
        if kind == "read":
            if op["page"] >= PAGES:
                return err("EINVAL")
            e = space.extent_at(op["page"])
            return {"data": list(self.view(space, e, op["page"]))} if e else SEGV
        if kind == "write":
            if op["page"] >= PAGES or op["cell"] >= CELLS:
                return err("EINVAL")
            e = space.extent_at(op["page"])
            if e is None or e.prot != "rw":
                return SEGV
            self.storage(space, e, op["page"])[op["cell"]] = op["value"]
            return OK
        if kind == "mmap" and "file" in op:
            raise Refused("mmap of a file needs feature file, which this engine does not offer")
        start, count = op["page"], op["pages"]
        if count == 0:
            return OK if kind in ("mprotect", "madvise") else err("EINVAL")
        end = start + count
        if end > PAGES:
            return err("EINVAL")
        if kind == "mmap":
            space.unmap(start, end)
            space.extents.insert(space.after(start), Extent(start, end, op["prot"], {} if op["shared"] else None))
            return OK
        if kind == "munmap":
            space.unmap(start, end)
            return OK
        if kind == "mprotect":
            at = start
            while at < end:
                e = space.extent_at(at)
                if e is None:
                    return err("ENOMEM")
                stop = min(e.end, end)
                space.split(at)
                space.split(stop)
                space.extent_at(at).prot = op["prot"]
                at = stop
            return OK
        return self.madvise(space, op["advice"], start, end)

    def madvise(self, space, advice, start, end):
        if advice not in ("dontneed", "dontfork", "dofork", "wipeonfork", "keeponfork"):
            raise Refused(f"madvise {advice} needs feature thp or ksm, which this engine does not offer")
        result = OK
        at = start
        while at < end:
            e = space.extent_at(at)
            if e is None:
                result = err("ENOMEM")
                i = space.after(at)
                at = min(space.extents[i].start, end) if i < len(space.extents) else end
                continue
            stop = min(e.end, end)
            if advice == "wipeonfork" and e.shared is not None:
                return err("EINVAL")
            if advice == "dontneed":
                space.drop_own(at, stop)  # private pages read zeros again; shared ones keep their data
            else:
                space.split(at)
                space.split(stop)
                x = space.extent_at(at)
                if advice in ("dontfork", "dofork"):
                    x.dontfork = advice == "dontfork"
                else:
                    x.wipeonfork = advice == "wipeonfork"
            at = stop
        return result


def main():
    def send(msg):
        sys.stdout.write(json.dumps(msg, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    features = ["reset"] if HIDE_COUNTERS else ["reset", "counters"]
    send({"hello": {"protocol": 1, "layer": "mm", "name": "eager-mm.py", "features": features}})
    engine = EagerMm()
    for line in sys.stdin:
        msg = json.loads(line)
        rid = msg.get("id")
        if msg.get("bye"):
            break
        try:
            if msg.get("reset"):
                engine = EagerMm()
                send({"id": rid, "ok": True})
            elif msg.get("inspect") == "counters" and not HIDE_COUNTERS:
                state = {"pagesCopied": engine.pages_copied, "pagesAllocated": engine.pages_allocated}
                send({"id": rid, "ok": True, "state": state})
            elif "op" in msg:
                send({"id": rid, "ok": True, "obs": engine.apply(msg["op"])})
            else:
                raise Refused(f"unknown request {json.dumps(msg)[:200]}")
        except Refused as e:
            send({"id": rid, "ok": False, "error": {"message": str(e)}})


if __name__ == "__main__":
    main()
