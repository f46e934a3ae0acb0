"""A seeded synthetic e-commerce corpus with planted PII, for evaluating the detector.

Planted values are generated here from random digits and syllables, independently of
anything the detector uses: names and places from random syllables (not the gazetteer),
Luhn-valid cards of seven brands in several groupings, IBANs of ten countries with valid
mod-97 check digits, phone numbers in international and national formats of many
regions (random digits kept when `phonenumbers` calls them valid), e-mails, IPv4/IPv6
and US SSNs. PII-free texts are product copy full of SKUs, prices, dimensions, order
numbers, EANs/UPCs, model numbers, versions and dates.

Example:
    texts = build_corpus(seed=0, n_pii=2000, n_clean=1000)
    texts[0].planted  # [Planted(entity='EMAIL_ADDRESS', start=.., end=.., value='...')]
"""

from __future__ import annotations

import ipaddress
import random
import string
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Planted:
    entity: str
    start: int
    end: int
    value: str


@dataclass
class CorpusText:
    id: str
    text: str
    planted: list[Planted] = field(default_factory=list)


_SYL = "ka ri vo len mar tu si da ne lo bre an gu pe zo hal min dor e a vi ra ost el qui fen yar wu so".split()


class _Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def word(self, lo: int = 2, hi: int = 3) -> str:
        return "".join(self.r.choice(_SYL) for _ in range(self.r.randint(lo, hi))).capitalize()

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    # --- PII values -------------------------------------------------------------------
    def person(self) -> str:
        return f"{self.word()} {self.word(2, 4)}"

    def email(self) -> str:
        local = self.r.choice([self.word().lower(), f"{self.word().lower()}.{self.word().lower()}",
                               f"{self.word().lower()}{self.digits(2)}", f"{self.word().lower()}_{self.word().lower()}"])
        tld = self.r.choice(["com", "net", "org", "de", "co.uk", "io", "shop", "fr", "nl", "info"])
        return f"{local}@{self.word().lower()}.{tld}"

    def card(self) -> str:
        brand = self.r.choice(["visa", "visa", "mc", "mc2", "amex", "discover", "diners", "jcb", "unionpay"])
        prefix, length = {
            "visa": ("4", 16), "mc": (str(self.r.randint(51, 55)), 16), "mc2": (str(self.r.randint(2221, 2720)), 16),
            "amex": (self.r.choice(["34", "37"]), 15), "discover": (self.r.choice(["6011", "65"]), 16),
            "diners": (self.r.choice(["36", "38", "300"]), 14), "jcb": (str(self.r.randint(3528, 3589)), 16),
            "unionpay": ("62", 16),
        }[brand]
        body = prefix + self.digits(length - len(prefix) - 1)
        number = body + _luhn_digit(body)
        groups = {15: (4, 6, 5), 14: (4, 6, 4)}.get(length, (4, 4, 4, 4))
        sep = self.r.choice([" ", "-", ""])
        out, i = [], 0
        for g in groups:
            out.append(number[i : i + g])
            i += g
        return sep.join(out)

    def iban(self) -> str:
        n, a = self.digits, lambda k: "".join(self.r.choice(string.ascii_uppercase) for _ in range(k))
        c = lambda k: "".join(self.r.choice(string.ascii_uppercase + string.digits) for _ in range(k))  # noqa: E731
        country, bban = self.r.choice([
            ("DE", n(18)), ("GB", a(4) + n(14)), ("FR", n(10) + c(11) + n(2)), ("NL", a(4) + n(10)),
            ("ES", n(20)), ("IT", a(1) + n(10) + c(12)), ("BE", n(12)), ("CH", n(5) + c(12)),
            ("PL", n(24)), ("AT", n(16)),
        ])
        iban = country + _iban_check(country, bban) + bban
        if self.r.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def phone(self) -> str:
        import phonenumbers
        from phonenumbers import PhoneNumberFormat as F

        national_ok = ["US", "GB", "DE", "FR", "IN", "ES", "IT", "NL", "AU", "BR", "CA"]
        region = self.r.choice(national_ok + ["SE", "PL", "CH", "JP", "MX", "ZA", "IE", "BE", "AT", "PT"])
        example = phonenumbers.example_number_for_type(region, self.r.choice(
            [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
        nsn = phonenumbers.national_significant_number(example)
        number = example
        for _ in range(500):  # random digits after the example's first 1-3, kept once valid
            keep = self.r.randint(1, 3)
            candidate = phonenumbers.parse("+" + str(example.country_code) + nsn[:keep] + self.digits(len(nsn) - keep))
            if phonenumbers.is_valid_number(candidate):
                number = candidate
                break
        style = self.r.choice(["intl", "e164", "00", "national", "national"] if region in national_ok else ["intl", "e164", "00"])
        if style == "national":
            return phonenumbers.format_number(number, F.NATIONAL)
        text = phonenumbers.format_number(number, F.E164 if style == "e164" else F.INTERNATIONAL)
        return "00" + text[1:] if style == "00" else text

    def ip(self) -> str:
        if self.r.random() < 0.6:
            return str(ipaddress.IPv4Address(self.r.randint(0x01000000, 0xDFFFFFFF)))
        addr = ipaddress.IPv6Address(self.r.getrandbits(128))
        if self.r.random() < 0.5:  # a compressible address, as real ones usually are
            addr = ipaddress.IPv6Address((0x20010DB8 << 96) | self.r.getrandbits(48))
        return addr.compressed if self.r.random() < 0.7 else addr.exploded

    def ssn(self) -> str:
        area = self.r.choice([a for a in range(1, 900) if a != 666])
        parts = f"{area:03d}", f"{self.r.randint(1, 99):02d}", f"{self.r.randint(1, 9999):04d}"
        return self.r.choice(["-", " "]).join(parts)

    def street(self) -> str:
        return f"{self.r.randint(1, 999)} {self.word()} {self.r.choice(['Street', 'Road', 'Avenue', 'Lane', 'Drive'])}"

    # --- product noise ------------------------------------------------------------------
    def product_fact(self) -> str:
        r = self.r
        return r.choice([
            f"SKU {self.word(1, 2).upper()[:3]}-{self.digits(4)}-{r.choice(['BLK', 'WHT', 'XL', 'M', '02'])}",
            f"EAN {_ean13(self.digits(12))}", f"UPC {_upc(self.digits(11))}",
            f"Order #{self.digits(r.randint(7, 12))}", f"order no. {self.digits(3)}-{self.digits(7)}-{self.digits(7)}",
            f"Model {self.word(1, 1).upper()[:2]}-{self.digits(2)}{r.choice('XYZ')}{self.digits(2)}{r.choice('KLM')}",
            f"${r.randint(1, 2999)}.{r.choice(['99', '49', '00', '95'])}", f"€ {r.randint(5, 999)},{r.choice(['90', '99', '00'])}",
            f"{r.randint(20, 240)} x {r.randint(20, 200)} x {r.randint(5, 120)} cm", f"{r.randint(1, 40)}.{r.randint(0, 9)} kg",
            f"{r.choice(['1920x1080', '3840 x 2160', '2560x1440'])} px", f"{r.randint(100, 5000)} mAh",
            f"Part No. {self.digits(3)}-{self.digits(2)}-{self.digits(4)}", f"Item {self.digits(4)}-{self.digits(3)}-{self.digits(3)}",
            f"firmware {r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)}",
            f"ISBN 978-{r.randint(0, 9)}-{self.digits(3)}-{self.digits(5)}-{r.randint(0, 9)}",
            f"tracking 1Z{self.digits(3)}AA{self.digits(10)}", f"ships {r.randint(2020, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            f"art. {self.digits(8)}", f"ref. {self.digits(10)}", f"pack of {r.randint(2, 48)}", f"{r.randint(5, 70)}% off",
            f"{r.randint(1, 5)}.{r.randint(0, 9)}/5 from {r.randint(10, 9000)} reviews", f"{r.randint(250, 2000)} ml",
            f"batch {self.digits(8)}-{self.digits(2)}", f"serial {self.digits(12)}", f"{r.randint(10, 99)}\" screen",
            "100-240 V, 50/60 Hz", f"{r.randint(400, 2400)}x{r.randint(300, 900)}x{r.randint(12, 40)} mm",
            f"{r.randint(32, 1024)} GB", f"EU {r.randint(36, 47)} / UK {r.randint(3, 12)} / US {r.randint(5, 13)}",
            f"art. {self.digits(3)}.{self.digits(3)}.{self.digits(2)}", f"v{r.randint(1, 12)}.{r.randint(0, 9)}.{self.digits(5)}.{self.digits(4)}",
            f"Mon-Fri {r.randint(7, 10):02d}:00-{r.randint(16, 20)}:30", f"{r.randint(10, 99)}.{r.randint(0, 9)} x {r.randint(10, 99)}.{r.randint(0, 9)} cm",
            f"barcode {self.digits(1)} {self.digits(6)} {self.digits(6)}", f"GTIN {self.digits(14)}", f"lot {r.randint(2019, 2026)}-{self.digits(3)}-{self.digits(2)}",
            f"{r.randint(1, 9)} {self.digits(3)} kr", f"{r.randint(1, 9)}.{self.digits(3)}.{self.digits(3)} units sold",
            f"ISBN {r.randint(0, 1)}-{self.digits(3)}-{self.digits(5)}-{r.randint(0, 9)}", f"collection {r.randint(2019, 2025)}/{r.randint(2020, 2026)}",
            f"{r.randint(1, 3)}-{r.randint(4, 9)} business days", f"{r.randint(1, 20)} x {r.randint(1, 9)}W LED",
        ])


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    return f"{98 - number % 97:02d}"


def _ean13(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _upc(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


# Templates: {X} is a planted value of entity X; {P} is a product fact (not PII).
_PII_TEMPLATES = {
    "EMAIL_ADDRESS": ["Please send the invoice for {P} to {X}.", "Contact: {X}", "Customer wrote from {X} about {P}.",
                      "{X} asked whether {P} is in stock.", "Reply to {X} re: {P}", "Thanks! -- ({X})"],
    "PHONE_NUMBER": ["Call me on {X} about {P}.", "Phone: {X}", "Courier should ring {X} before delivering {P}.",
                     "You can reach me at {X} regarding {P}.", "My mobile is {X}; the parcel is {P}.", "Tel. {X}",
                     "Leave it with the neighbour, {X}.", "{X} (evenings only)", "WhatsApp {X} if {P} is late."],
    "CREDIT_CARD": ["Paid with card {X} for {P}.", "Card number: {X}", "Please charge {X} for {P}.",
                    "Refund {P} to my Visa {X}.", "I used {X} to pay for {P}.",
                    "{X} exp 04/27, {P}", "Charged {P} on {X}."],
    "IBAN_CODE": ["Refund to IBAN {X} please ({P}).", "Bank transfer to {X} for {P}.", "My account: {X}",
                  "Send the money for {P} to {X}.", "Payout account {X}"],
    "IP_ADDRESS": ["Login to order {P} came from {X}.", "Request for {P} from IP {X}", "Fraud check flagged {X} ({P}).",
                   "Session {P} used address {X}.",
                   "{X} - - [10/Oct/2024:13:55:36] GET /cart", "client={X} status=403"],
    "US_SSN": ["SSN: {X}", "My social security number is {X}, order {P}.", "Tax form for {P} lists SSN {X}.",
               "Applicant SSN {X}", "{X} (SSN) on file for {P}.", "Identity check used {X}."],
    "PERSON": ["Dear {X}, your order {P} has shipped.", "Thanks, {X}", "Hello {X}, {P} is back in stock.",
               "My name is {X} and I ordered {P}.", "Kind regards,\n{X}", "Ms. {X} returned {P}.", "Customer: {X}",
               "{X} left a five-star review for {P}.", "Order placed by {X}."],  # the last one has no cue: the gazetteer detector misses it
    "LOCATION": ["Please ship to {X} ({P}).", "Deliver to {X}, thanks.", "Address: {X}", "I live at {X}; {P} arrived damaged.",
                 "Pick-up point {X} holds {P}."],
}
_CLEAN_TEMPLATES = [
    "{Name} lamp in brushed steel, {P}, {P}.", "Our bestselling {Name} sofa: {P}, {P}, {P}.",
    "New {Name} headphones ({P}), now {P}.", "{P}. {P}. Free returns within 30 days.",
    "Your order has shipped: {P}, {P}.", "The {Name} desk measures {P} and weighs {P}.",
    "Replacement filter {P} fits {P}; {P}.", "Bundle: {P} + {P}, {P}", "Made in Portugal. {P}, {P}.",
    "Designed in Copenhagen. {P}; {P}.", "{Name} 4K TV, {P}, {P}, energy class F.",
    "Back in stock on {P}: {Name} running shoes, {P}.", "Compare {P} with {P} before buying.",
]
_VALUES = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "card", "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip", "US_SSN": "ssn", "PERSON": "person", "LOCATION": "street",
}


def _fill(template: str, fill: dict[str, callable]) -> CorpusText:  # type: ignore[valid-type]
    text, planted, i = "", [], 0
    while i < len(template):
        j = template.find("{", i)
        if j < 0:
            text += template[i:]
            break
        text += template[i:j]
        k = template.index("}", j)
        kind, value = fill[template[j + 1 : k]]()
        if kind:
            planted.append(Planted(kind, len(text), len(text) + len(value), value))
        text += value
        i = k + 1
    return CorpusText("", text, planted)


def build_corpus(seed: int = 0, n_pii: int = 2000, n_clean: int = 1000) -> list[CorpusText]:
    """`n_pii` texts with 1-3 planted values each, then `n_clean` PII-free product texts."""
    g = _Gen(seed)
    out: list[CorpusText] = []
    entities = list(_PII_TEMPLATES)
    for n in range(n_pii):
        parts = []
        for entity in g.r.sample(entities, g.r.choice([1, 1, 2, 3])):
            parts.append(_fill(g.r.choice(_PII_TEMPLATES[entity]), {
                "X": lambda e=entity: (e, getattr(g, _VALUES[e])()), "P": lambda: ("", g.product_fact())}))
        text, planted = "", []
        for p in parts:
            # Sentences end in punctuation; a part ending in a value gets a full stop before the next.
            joint = "" if not text else (" " if text[-1] in ".!?)" else ". ")
            offset = len(text) + len(joint)
            text += joint + p.text
            planted += [Planted(q.entity, q.start + offset, q.end + offset, q.value) for q in p.planted]
        out.append(CorpusText(f"pii-{n:05d}", text, planted))
    for n in range(n_clean):
        t = _fill(g.r.choice(_CLEAN_TEMPLATES), {"P": lambda: ("", g.product_fact()), "Name": lambda: ("", g.word())})
        out.append(CorpusText(f"clean-{n:05d}", t.text, []))
    return out
