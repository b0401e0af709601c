"""Rules on the certificate content that both formats rely on before anything is signed."""

from __future__ import annotations

from itertools import pairwise

from vaxcert.contracts.signing import CertificateContent, Dose
from vaxcert.errors import VaxcertError


def doses_in_date_order(content: CertificateContent) -> list[Dose]:
    """The doses oldest first; refused (``dose_order_invalid``) when the numbers contradict them.

    Dose numbers count every COVID-19 dose of the person (通算), so a later dose always has a
    larger number, and two doses are never given on one day. Both formats list the doses by date
    and VDS-NC readers show each ``seq`` beside its date: a record that breaks this would be
    signed as a history that cannot have happened. The order of ``doses`` in the input does not
    matter; gaps and a first number above 1 are normal (doses given in another municipality).
    """
    doses = content.doses_in_order()
    for earlier, later in pairwise(doses):
        if later.date == earlier.date:
            raise VaxcertError("dose_order_invalid", "two doses have the same date")
        if later.dose_number < earlier.dose_number:
            raise VaxcertError(
                "dose_order_invalid",
                f"dose {later.dose_number} is dated after dose {earlier.dose_number}",
            )
    return doses
