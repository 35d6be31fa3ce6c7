"""The task broker killed mid-flow: no deposit is lost. A real RabbitMQ node of our own, a real worker.

alice deposits while the broker is up (the settlement message is published, no worker has taken it
yet); the broker is SIGKILLed; bob deposits while it is down (his message never exists); the broker
restarts from its disk and a worker starts. alice's deposit settles from the durable message, bob's
from the recovery sweep — each exactly once.
"""

import time
import urllib.request
from decimal import Decimal

import pytest

from accounts.tests.factories import approved_customer
from portfolios.models import JournalEntry, Transfer
from portfolios.tests.helpers import balances
from speedtrade.tests.processes import RabbitMQNode, RedisServer, app_environment, celery_worker, free_port, manage

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
D = Decimal

DEPOSIT = (
    "from decimal import Decimal; from portfolios.models import Account; "
    "from portfolios.services import transfer_create; "
    "t = transfer_create(account=Account.objects.get(pk='{account}'), direction='incoming', "
    "amount=Decimal('{amount}')); "
    "print('TRANSFER', t.pk)"
)


def _deposit_from_a_web_process(account, amount: str, broker_url: str, **settings) -> tuple[Transfer, str]:
    """What a web process does on POST /api/v1/transfers: commit, then publish the settlement task."""
    env = app_environment(CELERY_BROKER_URL=broker_url, CELERY_TASK_ALWAYS_EAGER="false", **settings)
    output = manage("shell", "-c", DEPOSIT.format(account=account.pk, amount=amount), env=env)
    transfer_id = output.split("TRANSFER ", 1)[1].split()[0]
    return Transfer.objects.get(pk=transfer_id), output


def _wait_until_settled(transfers: list[Transfer], timeout: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(Transfer.objects.get(pk=t.pk).status == Transfer.Status.SETTLED for t in transfers):
            return
        time.sleep(0.5)
    raise AssertionError({str(t.pk): Transfer.objects.get(pk=t.pk).status for t in transfers})


@pytest.fixture
def rabbitmq(tmp_path):
    node = RabbitMQNode(tmp_path / "rabbitmq")
    node.start()
    yield node
    node.kill()


def test_deposits_survive_a_broker_killed_mid_flow(alice, bob, rabbitmq, tmp_path):
    alice_account, bob_account = approved_customer(alice), approved_customer(bob)
    worker_env = app_environment(
        CELERY_BROKER_URL=rabbitmq.url, CELERY_TASK_ALWAYS_EAGER="false", TRANSFER_RECOVERY_AFTER_SECONDS="0"
    )

    # A first worker declares the durable queue, then stops: deposits now wait in the broker.
    worker = celery_worker(tmp_path / "worker-1.log", worker_env)
    worker.wait_for("ready.", timeout=90)
    worker.kill()

    alices, _ = _deposit_from_a_web_process(alice_account, "150.00", rabbitmq.url)
    assert alices.status == Transfer.Status.QUEUED

    rabbitmq.kill()  # mid-flow: alice's settlement is a message in a broker that just died
    bobs, output = _deposit_from_a_web_process(bob_account, "80.00", rabbitmq.url)
    assert bobs.status == Transfer.Status.QUEUED
    assert "left to its recovery sweep" in output  # the web process answered; the broker was down

    rabbitmq.start()  # the same node and disk: durable queue, persistent message
    metrics_port = free_port()
    worker = celery_worker(tmp_path / "worker-2.log", {**worker_env, "METRICS_PORT": str(metrics_port)})
    try:
        _wait_until_settled([alices, bobs], timeout=60)
        time.sleep(1)  # the run-time sample is taken just after the task's transaction commits
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:  # noqa: S310
            metrics = response.read().decode()
    finally:
        worker.kill()

    assert balances(alice_account)["cash"] == D("150.00")
    assert balances(bob_account)["cash"] == D("80.00")
    for transfer in (alices, bobs):
        assert JournalEntry.objects.filter(cause_object_id=str(transfer.pk)).count() == 1

    # The worker's own endpoint: task latency and run time per task, and the queue's depth.
    settle = 'task="portfolios.tasks.settle_transfer"'
    assert f'speedtrade_task_runtime_seconds_count{{state="SUCCESS",{settle}}}' in metrics
    assert f"speedtrade_task_latency_seconds_count{{{settle}}}" in metrics
    assert 'speedtrade_task_queue_depth{queue="celery"}' in metrics


def test_with_redis_as_broker_a_task_held_by_a_killed_worker_comes_back_in_seconds(alice, tmp_path):
    """Redis has no acks: the visibility timeout decides when a killed worker's task is delivered again.

    The worker holds the settlement (its countdown has not run out) when it is SIGKILLed; the next
    worker gets it back after the visibility timeout (5 s here, 30 s by default; kombu's own: an hour).
    The sweep is kept out of it (TRANSFER_RECOVERY_AFTER_SECONDS of an hour).
    """
    redis = RedisServer(tmp_path / "redis")
    account = approved_customer(alice)
    worker_env = app_environment(
        CELERY_BROKER_URL=redis.url,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_REDIS_VISIBILITY_TIMEOUT_SECONDS="5",
        TRANSFER_RECOVERY_AFTER_SECONDS="3600",
    )
    try:
        first = celery_worker(tmp_path / "worker-1.log", worker_env)
        first.wait_for("ready.", timeout=90)
        deposit, _ = _deposit_from_a_web_process(account, "42.00", redis.url, TRANSFER_SETTLEMENT_DELAY_SECONDS="3")
        first.wait_for("settle_transfer[", timeout=30)  # received, held until its countdown ends
        first.kill()
        killed_at = time.monotonic()

        second = celery_worker(tmp_path / "worker-2.log", worker_env)
        try:
            _wait_until_settled([deposit], timeout=45)
        finally:
            second.kill()
    finally:
        redis.kill()

    assert time.monotonic() - killed_at < 45
    assert "settle_transfer" in second.output()
    assert JournalEntry.objects.filter(cause_object_id=str(deposit.pk)).count() == 1
    assert balances(account)["cash"] == D("42.00")
