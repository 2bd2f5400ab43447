"""The personal-data table: real-looking customer text and what must leave for a provider.

Each case is ``(text, scrubbed)``: the text a customer (or a provider's error
body) might carry, and exactly what :func:`providers.pii.scrub` must make of it.
Near-misses (order and tracking numbers, dates, times, prices, Redis stream
ids, version numbers, IP addresses) must come back unchanged: the model needs
them, and masking them would make answers wrong. ``bench/pii_phones.py``
measures precision and recall on this table.

Card numbers are the networks' published test numbers; phone numbers are in
the ranges kept for drama and documentation where a country has one.
"""

from __future__ import annotations

CARDS = [
    ("my card is 4111 1111 1111 1111", "my card is [card]"),
    ("4111-1111-1111-1111 was charged twice", "[card] was charged twice"),
    ("card 4111.1111.1111.1111 exp 12/27", "card [card] exp 12/27"),
    ("refund to 5555555555554444 please", "refund to [card] please"),
    ("amex 3782 822463 10005", "amex [card]"),
    ("Diners: 3056 9309 0259 04", "Diners: [card]"),
    ("discover 6011-0009-9013-9424", "discover [card]"),
    ("mastercard 5105 1051 0510 5100.", "mastercard [card]."),
    ("JCB 3530111333300000", "JCB [card]"),
    ("visa (4012 8888 8888 1881)", "visa ([card])"),
    ("debit 4000 0566 5566 5556, not the other one", "debit [card], not the other one"),
    ("the new 2223 0031 2200 3222 card", "the new [card] card"),
    ("4242424242424242", "[card]"),
    ("it was 4242 4242 4242 4242!", "it was [card]!"),
]

IBANS = [
    ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [iban]"),
    ("send it to de89370400440532013000 thanks", "send it to [iban] thanks"),
    ("GB82 WEST 1234 5698 7654 32", "[iban]"),
    ("my iban is gb82 west 1234 5698 7654 32.", "my iban is [iban]."),
    ("FR14 2004 1010 0505 0001 3M02 606", "[iban]"),
    ("NL91ABNA0417164300", "[iban]"),
    ("iban: es91 2100 0418 4502 0005 1332", "iban: [iban]"),
    ("CH93 0076 2011 6238 5295 7 (Swiss account)", "[iban] (Swiss account)"),
    ("Be68 5390 0754 7034", "[iban]"),
    ("IT60X0542811101000000123456", "[iban]"),
]

EMAILS = [
    ("write to jane.doe@example.com", "write to [email]"),
    ("Jane.Doe+orders@mail.example.co.uk is mine", "[email] is mine"),
    ("jane.doe at example dot com", "[email]"),
    ("jane [at] example [dot] com", "[email]"),
    ("mail jane(at)example(dot)com today", "mail [email] today"),
    ("jane (at) example (dot) co (dot) uk", "[email]"),
    ("JANE AT EXAMPLE DOT COM", "[email]"),
    ("reach me: jane_doe at gmail.com", "reach me: [email]"),
    ("j.doe {at} example {dot} org", "[email]"),
    ("jane @ example.com", "[email]"),
    ("jane dot doe at example dot com", "[email]"),
    ("j.smith at example.org is my address", "[email] is my address"),
]

PHONES = [
    ("call +44 20 7946 0958", "call [phone]"),
    ("+1 (415) 555-2671 after 5pm", "[phone] after 5pm"),
    ("Berlin office +49 30 901820", "Berlin office [phone]"),
    ("+33 1 42 68 53 00", "[phone]"),
    ("0044 20 7946 0958", "[phone]"),
    ("whatsapp +31 6 12345678", "whatsapp [phone]"),
    ("Tokyo: +81 3-1234-5678", "Tokyo: [phone]"),
    ("call me on 020 7946 0958", "call me on [phone]"),
    ("(415) 555-2671", "[phone]"),
    ("my cell is 415-555-2671", "my cell is [phone]"),
    ("+86 138 0013 8000", "[phone]"),
    ("+91 98765 43210", "[phone]"),
    ("+61 2 9374 4000", "[phone]"),
    ("portable 06 12 34 56 78", "portable [phone]"),
    ("+7 495 123-45-67", "[phone]"),
    ("+55 11 91234-5678", "[phone]"),
    ("my number is +442079460958", "my number is [phone]"),
    ("ring 212.736.5000", "ring [phone]"),
]

# Must come back unchanged.
NEAR_MISSES = [
    "where is order NW-12345?",
    "order NW-10042 and NW-10043",
    "order 20240512-7781 is late",
    "reference #100234",
    "stream entry 1796157836600-1 acked",
    "ids 1796157836605-0 and 1796157836629-0",
    "xadd returned 1796157836601-9",
    "UPS 1Z999AA10123456784",
    "USPS 9400 1000 0000 0000 0000 00",
    "FedEx 7749 1234 5678",
    "DHL 1234567890",
    "delivered on 2024-05-01",
    "on 01/05/2024 at 14:30",
    "05.01.2024 between 10:30 and 12:00",
    "14:30-16:00 works",
    "it cost €1,299.00",
    "total $4,111.11 incl. VAT",
    "1.299,00 € bezahlt",
    "app version 4.11.1",
    "v2.3.14-beta crashed",
    "iOS 17.4.1",
    "server 192.168.100.200 timed out",
    "ISBN 978-3-16-148410-0",
    "barcode 4006381333931",
    "I ordered 3 x 12 pairs, size 42",
    "card ending 4242",
    "4111 1111 1111 1112 (a typo, fails Luhn)",
    "IBAN DE89 3704 0044 0532 0130 01 (wrong check digits)",
    "meet me at the store at 5",
    "available at northwind.example/returns",
    "@northwind on twitter",
    "zip 94107, PO box 12345",
    "call me at 3pm",
    "trace id 0xdeadbeef",
]

CASES: list[tuple[str, str]] = [
    *CARDS,
    *IBANS,
    *EMAILS,
    *PHONES,
    *((text, text) for text in NEAR_MISSES),
    (
        "Hi, I'm Jane (jane.doe at example dot com, +44 20 7946 0958), card "
        "4111.1111.1111.1111, order NW-10042",
        "Hi, I'm Jane ([email], [phone]), card [card], order NW-10042",
    ),
    (
        "refund 4111 1111 1111 1111 to GB82 WEST 1234 5698 7654 32 on 2024-05-01",
        "refund [card] to [iban] on 2024-05-01",
    ),
]
