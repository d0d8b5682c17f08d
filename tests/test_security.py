"""The security model of schema/SPEC.md's Security section, on the session's private Redis: a worker
and both clients run under the ACL users the SPEC gives (its `ACL SETUSER` lines are read from there,
so the documented ACL is the tested one), each rule of the producer's is shown to be needed, each role
is shown to be refused the other's commands and other prefixes, and the variant with preloaded scripts
and no `SCRIPT LOAD` works, until the script cache is lost.
"""

from __future__ import annotations

import hashlib
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from doshit import Client, ConfigError, TaskFailed, TaskNotFound
from doshit._core.schema import SCRIPTS

from .conftest import ROOT, WorkerProcess, blocking_client, submit_running, wait_for, wait_listening, wait_state
from .test_node import NODE, PACKAGE, NodeDriver

SPEC = ROOT / "schema" / "SPEC.md"
SCRIPTS_DIR = ROOT / "schema" / "scripts"
PASSWORD = "pass-word"
KILLED = "task was pubsub killed"
CANCELLED = "task was cancelled before it started"

StartWorker = Callable[..., WorkerProcess]


def spec_acl(role: str) -> list[str]:
    """The rules of the SPEC's `ACL SETUSER doshit-{role}` line, as written there."""
    for line in SPEC.read_text().splitlines():
        words = line.split()
        if words[:3] == ["ACL", "SETUSER", f"doshit-{role}"]:
            return words[3:]
    raise AssertionError(f"schema/SPEC.md has no `ACL SETUSER doshit-{role}` line")


PRODUCER_RULES = spec_acl("producer")
WORKER_RULES = spec_acl("worker")
SCRIPT_ROLES = {
    "submit": "producer", "submit_many": "producer", "cancel": "producer", "requeue": "producer",
    "claim": "worker", "finish": "worker", "unclaim": "worker", "retry": "worker", "promote": "worker",
    "recover": "worker", "progress": "worker",
}  # fmt: skip
"""Which role runs each script."""


def granted(rules: list[str]) -> set[str]:
    """The commands an ACL grants (+name), lower case."""
    return {rule[1:].lower() for rule in rules if rule.startswith("+")}


def without(rules: list[str], *dropped: str) -> list[str]:
    assert set(dropped) <= set(rules), f"{dropped} not in {rules}"
    return [rule for rule in rules if rule not in dropped]


@dataclass
class AclUsers:
    """A producer and a worker user for this test's prefix, made from the SPEC's ACL lines."""

    r: redis.Redis
    prefix: str
    host: str
    port: int
    extra: list[str]
    """Rules the server needs beyond the SPEC's lines (+client|setinfo on Redis 7.2 and later)."""

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def url(self, role: str, database: int = 0) -> str:
        return f"redis://{self.name(role)}:{PASSWORD}@{self.host}:{self.port}/{database}"

    def set(self, role: str, rules: list[str]) -> None:
        """Replace the role's rules: the SPEC's words with this test's prefix and password."""
        words = [f">{PASSWORD}" if word.startswith(">") else word.replace("{prefix}", self.prefix) for word in rules]
        self.r.execute_command("ACL", "SETUSER", self.name(role), "reset", *words, *self.extra)

    def refused(self) -> list[tuple[str, str, str]]:
        """What ACL LOG says Redis refused these users: (user, reason, object)."""
        mine = {self.name("producer"), self.name("worker")}
        return [
            (str(e["username"]), str(e["reason"]), str(e["object"])) for e in self.r.acl_log() if e["username"] in mine
        ]

    def connect(self, role: str) -> redis.Redis:
        return redis.Redis.from_url(self.url(role), decode_responses=True)


def load_scripts(r: redis.Redis) -> list[str]:
    """Load the script files as an admin would with `redis-cli -x SCRIPT LOAD < file`; their SHA1s."""
    return [str(r.execute_command("SCRIPT", "LOAD", path.read_bytes())) for path in sorted(SCRIPTS_DIR.glob("*.lua"))]


@pytest.fixture
def acl(r: redis.Redis, redis_proc: Any, prefix: str) -> Iterator[AclUsers]:
    """The SPEC's two users for this test's prefix, and an empty script cache on the session's private
    Redis (so that each user loads what it runs, as after a Redis restart). The users are deleted
    afterwards."""
    version = tuple(int(part) for part in r.info("server")["redis_version"].split(".")[:2])
    if version < (7, 0):
        pytest.skip(f"the ACL needs Redis 7 (key permissions such as %R~); this redis-server is {version}")
    extra = ["+client|setinfo"] if version >= (7, 2) else []  # (7.0 does not know the command)
    users = AclUsers(r, prefix, redis_proc.host, redis_proc.port, extra)
    try:
        users.set("producer", PRODUCER_RULES)
        users.set("worker", WORKER_RULES)
        r.script_flush()
        yield users
    finally:
        r.execute_command("ACL", "DELUSER", users.name("producer"), users.name("worker"))


def start_as_worker(start_worker: StartWorker, acl: AclUsers, *extra: str, ready: bool = True) -> WorkerProcess:
    """A worker process logged in as the worker user (the later --redis-url wins)."""
    return start_worker("--redis-url", acl.url("worker"), "--concurrency", "1", *extra, ready=ready)


def killed(task: Any) -> None:
    with pytest.raises(TaskFailed) as failure:
        task.wait_result(timeout=10)
    assert failure.value.reason == KILLED


# --------------------------------------------------------------------------- the ACL is enough


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_worker_and_a_client_work_under_the_spec_acl(
    kind: str, acl: AclUsers, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    worker = start_as_worker(start_worker, acl)
    wait_listening(r, prefix)
    worker_id = str(r.keys(f"{prefix}:worker:*")[0]).rsplit(":", 1)[1]
    with blocking_client(kind, acl.url("producer"), prefix) as client:
        assert client.submit("echo", text="hi").wait_result(timeout=10) == "hi"
        task = client.submit("add", a=1, b=2)
        assert task.wait_result() == 3  # no timeout: the client first looks for a live worker
        assert task.poll()
        info = client.info(task.task_id)
        assert (info.state, info.worker) == ("finished", worker_id)
        with pytest.raises(TaskFailed, match="ValueError: bad input"):
            client.submit("fail").wait_result(timeout=10)

        pending = client.submit("echo", text="never", _queue="nobody")
        assert pending.cancel() == "cancelled"
        assert client.get(pending.task_id).cancel() == "finished"
        assert client.info(pending.task_id).error_reason == CANCELLED

        running = submit_running(client, "sleep", seconds=30)
        assert running.cancel() == "killing"
        killed(running)

        running = submit_running(client, "sleep", seconds=30)
        assert client.kill_all() == 1
        killed(running)
    assert worker.proc.poll() is None, worker.log()
    assert acl.refused() == []


def test_every_path_of_the_worker_works_under_the_spec_acl(
    acl: AclUsers, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    """Beyond run and finish: heartbeats, a backlog taken at once, an invalid id dropped, a kill
    request found after a lost subscription, tasks given back and the worker hash deleted at exit."""
    worker = start_as_worker(start_worker, acl, "--heartbeat-interval", "0.2", "--shutdown-timeout", "5")
    wait_listening(r, prefix)
    worker_key = r.keys(f"{prefix}:worker:*")[0]
    first_beat = r.hget(worker_key, "heartbeat")
    wait_for(lambda: r.hget(worker_key, "heartbeat") != first_beat, what="a heartbeat")
    with Client(acl.url("producer"), prefix=prefix) as client:
        submit_running(client, "sleep", seconds=0.3)
        tasks = [client.submit("echo", value=i) for i in range(6)]  # a backlog, taken several at once
        assert [task.wait_result(timeout=10) for task in tasks] == list(range(6))

        with acl.connect("producer") as conn:
            conn.lpush(f"{prefix}:default:pending", "not an id")  # a producer may push junk
        assert client.submit("echo", text="after").wait_result(timeout=10) == "after"
        assert r.llen(f"{prefix}:default:executing") == 0

        running = submit_running(client, "sleep", seconds=30)
        r.hset(f"{prefix}:task:{running.task_id}", "kill-requested", "2020-01-01T00:00:00.000000Z")
        r.execute_command("CLIENT", "KILL", "USER", acl.name("worker"), "TYPE", "pubsub")
        killed(running)  # read from the mark once the worker subscribed again

        submit_running(client, "sleep", seconds=0.5)
        ahead = client.submit("echo", text="claimed ahead")
        wait_state(r, prefix, ahead.task_id, "executing")
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0, worker.log()
    assert r.hget(f"{prefix}:task:{ahead.task_id}", "state") == "pending"
    assert r.lrange(f"{prefix}:default:pending", 0, -1) == [ahead.task_id]
    assert r.exists(worker_key) == 0
    assert r.zcard(f"{prefix}:workers") == 0
    assert acl.refused() == []


@pytest.mark.skipif(NODE is None or not (PACKAGE / "node_modules").is_dir(), reason="needs node and npm ci")
def test_a_node_producer_works_under_the_spec_acl(
    acl: AclUsers, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    start_as_worker(start_worker, acl)
    node = NodeDriver(acl.url("producer"), prefix)
    result = node("call", fn="echo", args={"text": "from node"}, timeout=10_000)
    assert result["ok"], result
    submitted = node("submit", fn="echo", args={"text": "never"}, options={"queue": "nobody"})
    assert node("cancel", taskId=submitted["taskId"]) == {"ok": True, "value": "cancelled"}
    assert acl.refused() == []


def test_each_script_calls_only_commands_its_role_is_granted() -> None:
    """A new command in a script (or a new script) must come with its ACL."""
    assert set(SCRIPTS) == set(SCRIPT_ROLES)
    rules = {"producer": granted(PRODUCER_RULES), "worker": granted(WORKER_RULES)}
    for name, spec in SCRIPTS.items():
        called = {command.lower() for command in re.findall(r"redis\.call\('(\w+)'", spec.source)}
        assert called, name
        assert called <= rules[SCRIPT_ROLES[name]], f"{name}.lua calls {called - rules[SCRIPT_ROLES[name]]}"


# --------------------------------------------------------------------------- and no more than enough


def producer_operations(client: Client, r: redis.Redis, prefix: str) -> None:
    """Every operation of a producer; the admin connection plays a live worker."""
    worker_id = str(uuid.uuid4())
    r.zadd(f"{prefix}:workers", {worker_id: time.time() + 60})
    r.hset(f"{prefix}:worker:{worker_id}", "queue", "default")
    task = client.submit("echo", text="hi")
    r.hset(task.key, mapping={"state": "finished", "result": "successful", "result-value": '"hi"'})
    r.publish(f"{prefix}:results", task.key)
    assert task.wait_result() == "hi"
    assert client.info(task.task_id).state == "finished"
    assert task.poll()
    assert client.submit("echo", _queue="nobody").cancel() == "cancelled"
    later = client.submit("echo", _queue="nobody", _delay=60, _retries=1, _timeout=5)
    assert later.cancel() == "cancelled"  # a scheduled task
    assert later.requeue() == "requeued"  # a failed one (cancelled)
    running = client.submit("echo", _queue="nobody")
    r.hset(running.key, "state", "executing")
    assert running.cancel() == "killing"
    assert client.kill_all() == 0
    assert len(client.submit_many("echo", [{"text": "a"}, {"text": "b", "_delay": 60}], _queue="nobody")) == 2


PRODUCER_NEEDS = [rule for rule in PRODUCER_RULES if rule[0] in "+~%&"]


@pytest.mark.parametrize("rule", PRODUCER_NEEDS)
def test_each_rule_of_the_producer_acl_is_needed(rule: str, acl: AclUsers, r: redis.Redis, prefix: str) -> None:
    acl.set("producer", without(PRODUCER_RULES, rule))
    with Client(acl.url("producer"), prefix=prefix) as client, pytest.raises(ConfigError, match="Redis refused access"):
        producer_operations(client, r, prefix)
    assert acl.refused(), "ACL LOG has no entry for the producer"


def test_the_producer_acl_is_enough_for_every_operation(acl: AclUsers, r: redis.Redis, prefix: str) -> None:
    with Client(acl.url("producer"), prefix=prefix) as client:
        producer_operations(client, r, prefix)
    assert acl.refused() == []


@pytest.mark.parametrize("command", ["client|setname", "exec", "hset", "expire", "zadd", "zremrangebyscore"])
def test_a_worker_refused_a_command_of_its_registration_stops_at_start(
    command: str, acl: AclUsers, start_worker: StartWorker
) -> None:
    """Rather than serve while its worker hash expires (a heartbeat command refused)."""
    acl.set("worker", without(WORKER_RULES, f"+{command}"))
    worker = start_as_worker(start_worker, acl, ready=False)
    assert worker.wait() == 2, worker.log()
    assert "Redis refused access" in worker.log()
    assert "Traceback" not in worker.log()


def refused(operation: Callable[[], object]) -> str:
    """The error Redis gives for an operation it must refuse."""
    with pytest.raises(redis.ResponseError) as error:
        operation()
    return str(error.value)


def subscribe(conn: redis.Redis, channel: str) -> None:
    pubsub = conn.pubsub()
    try:
        pubsub.subscribe(channel)
        pubsub.get_message(timeout=1)
    finally:
        pubsub.close()


def test_a_producer_cannot_do_what_workers_do_nor_reach_another_prefix(acl: AclUsers, r: redis.Redis) -> None:
    p = acl.prefix
    conn = acl.connect("producer")
    no_command = "no permissions to run"
    for operation, why in [
        (lambda: conn.brpoplpush(f"{p}:default:pending", f"{p}:default:executing", 1), no_command),
        (lambda: conn.rpoplpush(f"{p}:default:pending", f"{p}:default:executing"), no_command),
        (lambda: conn.lrange(f"{p}:default:pending", 0, -1), no_command),
        (lambda: conn.lrem(f"{p}:default:executing", 0, "x"), "keys"),
        (lambda: conn.hset(f"{p}:worker:w", "queue", "x"), "keys"),
        (lambda: conn.zadd(f"{p}:workers", {"w": 1}), "keys"),
        (lambda: conn.delete(f"{p}:task:x"), no_command),
        (lambda: conn.keys("*"), no_command),
        (lambda: conn.eval("return 1", 0), no_command),
        (lambda: conn.script_flush(), no_command),
        (lambda: conn.config_get("*"), no_command),
        (lambda: conn.hgetall("other:task:x"), "keys"),
        (lambda: conn.publish("other:cmd", "task:kill:all"), "channels"),
        (lambda: subscribe(conn, "other:results"), "channels"),
    ]:
        assert why in refused(operation)
    assert "no permissions to run the 'flushall' command" in r.acl_dryrun(acl.name("producer"), "FLUSHALL")

    # Its own Lua may run, but a script reaches no more than the user does.
    read_state = conn.script_load("return redis.call('HGET', KEYS[1], 'state')")
    r.hset(f"{p}:task:x", "state", "pending")
    assert conn.evalsha(read_state, 1, f"{p}:task:x") == "pending"
    assert "keys" in refused(lambda: conn.evalsha(read_state, 1, "other:task:x"))
    read_queue = conn.script_load("return redis.call('LRANGE', KEYS[1], 0, -1)")
    assert "script" in refused(lambda: conn.evalsha(read_queue, 1, f"{p}:default:pending"))
    conn.close()


def test_a_worker_cannot_do_what_producers_do_nor_reach_another_prefix(acl: AclUsers, r: redis.Redis) -> None:
    p = acl.prefix
    conn = acl.connect("worker")
    no_command = "no permissions to run"
    for operation, why in [
        (lambda: conn.hgetall(f"{p}:task:x"), no_command),
        (lambda: conn.persist(f"{p}:task:x"), no_command),
        (lambda: conn.keys("*"), no_command),
        (lambda: conn.eval("return 1", 0), no_command),
        (lambda: conn.hget("other:task:x", "state"), "keys"),
        (lambda: subscribe(conn, "other:cmd"), "channels"),
    ]:
        assert why in refused(operation)
    assert "no permissions to run the 'flushall' command" in r.acl_dryrun(acl.name("worker"), "FLUSHALL")
    conn.close()


# --------------------------------------------------------------------------- preloaded scripts


def test_preloaded_scripts_need_no_script_load_until_the_cache_is_lost(
    acl: AclUsers, start_worker: StartWorker, r: redis.Redis, prefix: str
) -> None:
    acl.set("producer", without(PRODUCER_RULES, "+script|load"))
    acl.set("worker", without(WORKER_RULES, "+script|load"))
    shas = load_scripts(r)
    assert shas == [hashlib.sha1(path.read_bytes()).hexdigest() for path in sorted(SCRIPTS_DIR.glob("*.lua"))]
    assert set(shas) == {spec.sha for spec in SCRIPTS.values()}  # what the clients call
    worker = start_as_worker(start_worker, acl)
    with Client(acl.url("producer"), prefix=prefix) as client:
        assert client.submit("echo", text="preloaded").wait_result(timeout=10) == "preloaded"
        assert client.submit("echo", _queue="nobody").cancel() == "cancelled"

        r.script_flush()  # as a restart of Redis does
        with pytest.raises(ConfigError, match=r"Redis refused access: .*'script\|load'"):
            client.submit("echo", text="lost")
        r.hset(f"{prefix}:task:by-hand", mapping={"function": "echo", "state": "pending", "args": "{}"})
        r.lpush(f"{prefix}:default:pending", "by-hand")
        assert worker.wait() == 2, worker.log()
        assert re.search(r"Redis refused access: .*'script\|load'", worker.log()), worker.log()
        assert r.lrange(f"{prefix}:default:executing", 0, -1) == ["by-hand"]  # popped, never claimed

        load_scripts(r)
        assert client.submit("echo", _queue="nobody").cancel() == "cancelled"
    assert set(acl.refused()) == {(acl.name(role), "command", "script|load") for role in ("producer", "worker")}


def test_a_url_that_names_another_database_needs_select(acl: AclUsers, prefix: str) -> None:
    with Client(acl.url("producer", 1), prefix=prefix) as client, pytest.raises(ConfigError, match="'select'"):
        client.info("x")
    acl.set("producer", [*PRODUCER_RULES, "+select"])
    with Client(acl.url("producer", 1), prefix=prefix) as client, pytest.raises(TaskNotFound):
        client.info("x")


def test_the_readme_gives_the_same_acl_lines_as_the_spec() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    for role in ("producer", "worker"):
        (line,) = [line for line in readme if line.startswith(f"ACL SETUSER doshit-{role} ")]
        assert line.split()[3:] == spec_acl(role)
