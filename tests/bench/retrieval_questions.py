"""The retrieval benchmark's questions over ``tests/fixtures/handbook`` (a fixed, made-up company handbook).

Each question names the file that answers it, a phrase the retrieved chunk must contain (``evidence``),
and what a correct answer must say (``answer``: regular expressions, all of which must match).
``lexical`` questions share words with their passage; ``paraphrase`` questions are written without
the passage's words (the benchmark prints how many content words each still shares).
"""

from __future__ import annotations

from typing import NamedTuple


class Question(NamedTuple):
    kind: str  # "lexical" or "paraphrase"
    question: str
    file: str
    evidence: str
    answer: tuple[str, ...]


L, P = "lexical", "paraphrase"

QUESTIONS: list[Question] = [
    # --- lexical: the question uses the passage's own words ---
    Question(
        L,
        "How many days before departure must flights be booked?",
        "guide/travel.md",
        "at least 14 days",
        (r"\b14\b",),
    ),
    Question(
        L,
        "Which class is required for flights under 6 hours?",
        "guide/travel.md",
        "Economy class is required",
        (r"economy",),
    ),
    Question(
        L,
        "What is the daily meal allowance in Europe?",
        "guide/travel.md",
        "45 euros in Europe",
        (r"\b45\b",),
    ),
    Question(
        L,
        "Up to how much are hotel rooms reimbursed per night?",
        "guide/travel.md",
        "150 euros per night",
        (r"\b150\b",),
    ),
    Question(
        L, "When are expense reports with receipts due?", "guide/travel.md", "10 working days", (r"\b10\b",)
    ),
    Question(
        L,
        "How many days of paid vacation do full-time employees receive?",
        "guide/leave.md",
        "28 days of paid vacation",
        (r"\b28\b",),
    ),
    Question(
        L,
        "How many unused vacation days may be carried over?",
        "guide/leave.md",
        "Up to 5 unused",
        (r"\b5\b|\bfive\b",),
    ),
    Question(L, "How long is parental leave?", "guide/leave.md", "20 weeks", (r"\b20\b",)),
    Question(
        L,
        "When do sick days need a doctor's certificate?",
        "guide/leave.md",
        "3 consecutive days",
        (r"\b3\b|\bthree\b",),
    ),
    Question(L, "How long must passwords be?", "guide/security.md", "at least 14 characters", (r"\b14\b",)),
    Question(
        L,
        "After how many minutes of inactivity do laptops lock?",
        "guide/security.md",
        "after 5 minutes",
        (r"\b5\b|\bfive\b",),
    ),
    Question(
        L,
        "Which extension do I call to report lost devices?",
        "guide/security.md",
        "extension 4400",
        (r"4400",),
    ),
    Question(
        L,
        "Which app does two-factor authentication use?",
        "guide/security.md",
        "Acme Authenticator",
        (r"authenticator",),
    ),
    Question(
        L,
        "When do new hires receive their badge?",
        "guide/onboarding.md",
        "first morning, at 9:00",
        (r"9[:.]00|\b9\b|first morning",),
    ),
    Question(
        L, "How long is a newcomer paired with a buddy?", "guide/onboarding.md", "first 90 days", (r"\b90\b",)
    ),
    Question(
        L,
        "When must mandatory compliance training be finished?",
        "guide/onboarding.md",
        "first two weeks",
        (r"two weeks|\b2 weeks",),
    ),
    Question(
        L,
        "When do bearer tokens expire?",
        "api/reference.rst",
        "expire after 60 minutes",
        (r"\b60\b|one hour|1 hour",),
    ),
    Question(
        L,
        "How many requests per minute may each API key send?",
        "api/reference.rst",
        "600 requests per minute",
        (r"\b600\b",),
    ),
    Question(
        L,
        "How many items per page do list endpoints return?",
        "api/reference.rst",
        "50 items per page",
        (r"\b50\b",),
    ),
    Question(
        L,
        "How many times are webhook deliveries retried?",
        "api/reference.rst",
        "retried 8 times",
        (r"\b8\b|\beight\b",),
    ),
    Question(
        L,
        "Which header chooses the API version?",
        "api/reference.rst",
        "Acme-Version header",
        (r"acme-version",),
    ),
    Question(
        L,
        "Which fields does the JSON body of error responses carry?",
        "api/errors.rst",
        "code, message and request_id",
        (r"request_id",),
    ),
    Question(
        L, "What does a 409 Conflict mean?", "api/errors.rst", "modified concurrently", (r"concurrent",)
    ),
    Question(
        L,
        "What is the refund policy?",
        "src/billing.py",
        "full refund within 30 days",
        (r"\b30\b", r"refund"),
    ),
    Question(
        L, "When do unpaid invoices incur a late fee?", "src/billing.py", "unpaid after 45 days", (r"\b45\b",)
    ),
    Question(
        L,
        "Above which order total do orders ship free of charge?",
        "src/shipping.py",
        "above 80 euros",
        (r"\b80\b",),
    ),
    Question(L, "How much does express delivery cost?", "src/shipping.py", "costs 12 euros", (r"\b12\b",)),
    Question(
        L,
        "What are the phone support hours?",
        "support/faq.html",
        "8:00 to 18:00",
        (r"8[:.]00|\b8\b", r"18[:.]00|\b18\b"),
    ),
    Question(
        L,
        "Which payment methods are accepted?",
        "support/faq.html",
        "Visa, Mastercard, PayPal",
        (r"visa", r"paypal"),
    ),
    Question(
        L,
        "When are databases backed up?",
        "ops/runbook.md",
        "every night at 02:00 UTC",
        (r"02[:.]00|2[:.]00|\b2 ?am|night",),
    ),
    Question(
        L, "When are production deploys frozen?", "ops/runbook.md", "15 December to 5 January", (r"december",)
    ),
    Question(L, "What is the default HTTP client timeout?", "ops/config.md", "45 seconds", (r"\b45\b",)),
    # --- paraphrase: none of the passage's words (see the overlap the benchmark prints) ---
    Question(
        P,
        "Can I get my money back if I send a purchase back after three weeks?",
        "src/billing.py",
        "full refund within 30 days",
        (r"\b30\b|yes|full refund",),
    ),
    Question(
        P,
        "How much holiday time off do staff get annually?",
        "guide/leave.md",
        "28 days of paid vacation",
        (r"\b28\b",),
    ),
    Question(
        P,
        "What should I do if my notebook computer gets stolen?",
        "guide/security.md",
        "extension 4400",
        (r"4400|service desk",),
    ),
    Question(
        P,
        "How often must I change my login secret?",
        "guide/security.md",
        "rotated every 180 days",
        (r"\b180\b",),
    ),
    Question(
        P,
        "How much may I spend on food each day on a trip to Germany?",
        "guide/travel.md",
        "45 euros in Europe",
        (r"\b45\b",),
    ),
    Question(
        P,
        "Can I sit in premium seats on a short hop?",
        "guide/travel.md",
        "Economy class is required",
        (r"economy|\bno\b",),
    ),
    Question(
        P,
        "How soon do I have to hand in my costs paperwork?",
        "guide/travel.md",
        "10 working days",
        (r"\b10\b",),
    ),
    Question(
        P,
        "How long may a mother or father stay home with a newborn?",
        "guide/leave.md",
        "20 weeks",
        (r"\b20\b",),
    ),
    Question(
        P,
        "Do I need a note from a physician when I am ill?",
        "guide/leave.md",
        "doctor's certificate",
        (r"\b3\b|three|certificate",),
    ),
    Question(
        P,
        "Who helps a fresh colleague settle in during their early months?",
        "guide/onboarding.md",
        "paired with a buddy",
        (r"buddy",),
    ),
    Question(
        P,
        "What happens if my program calls your service too often?",
        "api/reference.rst",
        "HTTP 429",
        (r"429|600",),
    ),
    Question(
        P,
        "How do I get the following batch of results from a listing call?",
        "api/reference.rst",
        "cursor parameter",
        (r"cursor",),
    ),
    Question(
        P,
        "What if our callback URL is down when you notify us?",
        "api/reference.rst",
        "retried 8 times",
        (r"\b8\b|eight|retr",),
    ),
    Question(
        P,
        "How long does an access credential stay valid?",
        "api/reference.rst",
        "expire after 60 minutes",
        (r"\b60\b|one hour|1 hour",),
    ),
    Question(
        P,
        "What should my client do when two people edit the same record at once?",
        "api/errors.rst",
        "latest ETag",
        (r"etag|409",),
    ),
    Question(
        P,
        "Is there a penalty for paying a bill late?",
        "src/billing.py",
        "late fee of 2 percent",
        (r"\b2\b|two",),
    ),
    Question(
        P,
        "How are cents handled when sums are computed?",
        "src/billing.py",
        "banker's rounding",
        (r"banker|two decimals|\b2 decimals",),
    ),
    Question(
        P, "Is postage gratis for big purchases?", "src/shipping.py", "ship free of charge", (r"\b80\b",)
    ),
    Question(P, "How do you send really heavy boxes?", "src/shipping.py", "sent by freight", (r"freight",)),
    Question(
        P, "How long is my gadget guaranteed?", "support/faq.html", "two-year warranty", (r"two|\b2\b",)
    ),
    Question(
        P,
        "Can I give back something I have already opened and used?",
        "support/faq.html",
        "must be unused",
        (r"unused|\bno\b",),
    ),
    Question(
        P,
        "How long do you retain copies of the data stores?",
        "ops/runbook.md",
        "kept for 35 days",
        (r"\b35\b",),
    ),
    Question(
        P,
        "How fast must the person on duty react to an alert?",
        "ops/runbook.md",
        "within 15 minutes",
        (r"\b15\b",),
    ),
    Question(
        P,
        "When can we ship new code to customers around the holidays?",
        "ops/runbook.md",
        "15 December to 5 January",
        (r"january|december",),
    ),
    Question(
        P,
        "What happens when a background task crashes?",
        "ops/config.md",
        "retried 3 times",
        (r"\b3\b|three|dead-letter",),
    ),
    Question(
        P,
        "How long do stored responses stay fresh?",
        "ops/config.md",
        "holds entries for 10 minutes",
        (r"\b10\b",),
    ),
    Question(P, "Where can I leave my bike?", "notes/office.txt", "basement garage", (r"basement|garage",)),
    Question(
        P,
        "How heavy is the device and how long does it last unplugged?",
        "product/widget.md",
        "1.2 kilograms",
        (r"1\.2", r"\b9\b"),
    ),
    Question(
        P, "Can I use the gadget in the rain?", "product/widget.md", "water resistant to IP54", (r"IP54|yes",)
    ),
]
