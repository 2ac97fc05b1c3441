"""Two jobs issuing certificates for the same organiser and year at the same time get unique, gap-free numbers."""

import threading

import pytest
from django.db import connection

from certificates import services
from certificates.models import Certificate
from tests.certificates.test_services import ISSUED, finished_batch
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_parallel_issues_give_unique_gap_free_numbers(postgres_required):
    staff = StaffFactory(organiser__code="UPT-PTKS")
    batches = [finished_batch(staff, participants=8, serial_from=1 + 20 * i) for i in range(4)]
    # Two jobs per batch: the second must find nothing left to do.
    jobs = [batch for batch in batches for _twice in range(2)]
    barrier = threading.Barrier(len(jobs))
    errors = []

    def run(batch):
        try:
            barrier.wait(timeout=30)
            services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED)
        except Exception as error:  # collected and asserted below
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(batch,)) for batch in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    seqs = sorted(Certificate.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, 33))
    assert Certificate.objects.values("enrollment").distinct().count() == 32
