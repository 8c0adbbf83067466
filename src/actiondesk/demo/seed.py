"""Deterministic generation and seeding of the demo dataset.

The ``random`` module is used on purpose (ruff S311): this is demo data, not security, and a
seeded ``random.Random`` is what makes two runs produce identical rows.
"""

import random
import string
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from actiondesk.demo.models import (
    ACCOUNT_CURRENCIES,
    USER_TEAMS,
    Company,
    DemoBase,
)

__all__ = ["BASE_DATE", "DEMO_COUNTS", "DEMO_SEED", "generate_rows", "seed_demo"]

DEMO_SEED = 20261123
BASE_DATE = datetime(2026, 1, 1)
CHUNK_SIZE = 1000

# Insertion order matters: every table comes after the tables it references.
DEMO_COUNTS: dict[str, int] = {
    "companies": 400,
    "customers": 2000,
    "transactions": 5000,
    "users": 300,
    "accounts": 600,
    "incomes": 3000,
    "outcomes": 3000,
}

Row = dict[str, object]

_CENT = Decimal("0.01")
_VAT_RATE = Decimal("0.2")
_FEE_RATE = Decimal("0.005")
_DAY = 86_400

FIRSTNAMES = (
    "Alice", "Amir", "Anna", "Arthur", "Beatriz", "Camille", "Carlos", "Chloe", "Daniel", "David",
    "Elena", "Emma", "Ethan", "Fatima", "Felix", "Gabriel", "Grace", "Hannah", "Hugo", "Ines",
    "Isaac", "Jade", "James", "Julia", "Karim", "Laura", "Leo", "Lina", "Lucas", "Manon",
    "Marco", "Maria", "Mateo", "Maya", "Nadia", "Noah", "Nora", "Olivia", "Omar", "Paul",
    "Priya", "Rafael", "Rosa", "Sacha", "Sarah", "Sofia", "Theo", "Victor", "Yuki", "Zoe",
)  # fmt: skip
LASTNAMES = (
    "Anderson", "Bernard", "Brown", "Chen", "Costa", "Dubois", "Durand", "Fischer", "Garcia",
    "Girard", "Gomez", "Hansen", "Ivanova", "Jensen", "Kim", "Kowalski", "Lambert", "Laurent",
    "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Muller", "Nakamura", "Nguyen", "Novak",
    "O'Brien", "Petit", "Rossi", "Roux", "Santos", "Schmidt", "Silva", "Smith", "Tanaka",
    "Taylor", "Thomas", "Vidal", "Wagner", "Walker", "Weber", "Williams", "Wilson", "Young",
)  # fmt: skip
COMPANY_PREFIXES = (
    "Acme", "Alder", "Apex", "Arcadia", "Beacon", "Bluebird", "Boreal", "Brightwave", "Cedar",
    "Cobalt", "Copper", "Crescent", "Delta", "Ember", "Evergreen", "Falcon", "Granite",
    "Harbor", "Helix", "Horizon", "Ironwood", "Juniper", "Keystone", "Lumen", "Maple",
    "Meridian", "Nimbus", "Northwind", "Oakridge", "Orbit", "Pioneer", "Quartz", "Redwood",
    "Sierra", "Silverline", "Summit", "Tidewater", "Vertex", "Willow", "Zenith",
)  # fmt: skip
COMPANY_SUFFIXES = (
    "Analytics", "Brands", "Capital", "Consulting", "Dynamics", "Energy", "Foods", "Group",
    "Health", "Industries", "Labs", "Logistics", "Media", "Motors", "Networks", "Partners",
    "Robotics", "Software", "Studios", "Systems", "Technologies", "Ventures",
)  # fmt: skip
INDUSTRIES = (
    "Agriculture", "Automotive", "Banking", "Construction", "Consulting", "E-commerce",
    "Education", "Energy", "Entertainment", "Food & Beverage", "Healthcare", "Insurance",
    "Logistics", "Manufacturing", "Media", "Real Estate", "Retail", "Software",
    "Telecommunications", "Travel",
)  # fmt: skip
CITIES = (
    "Amsterdam, Netherlands", "Austin, United States", "Barcelona, Spain", "Berlin, Germany",
    "Boston, United States", "Brussels, Belgium", "Dublin, Ireland", "Edinburgh, United Kingdom",
    "Hamburg, Germany", "Lisbon, Portugal", "London, United Kingdom", "Lyon, France",
    "Madrid, Spain", "Manchester, United Kingdom", "Milan, Italy", "Montreal, Canada",
    "Munich, Germany", "New York, United States", "Paris, France", "Rotterdam, Netherlands",
    "San Francisco, United States", "Seattle, United States", "Stockholm, Sweden",
    "Toronto, Canada", "Zurich, Switzerland",
)  # fmt: skip
TAGLINES = (
    "Trusted by teams across Europe and North America.",
    "Growing fast since its last funding round.",
    "A long-standing partner with a dedicated account manager.",
    "Currently evaluating an upgrade to the enterprise plan.",
    "Known for quick payments and clean paperwork.",
    "Expanding into two new markets this year.",
)
TRANSACTION_NOTES = (
    "Consulting services - invoice {n}",
    "Quarterly licence renewal, invoice {n}",
    "Hardware purchase, PO {n}",
    "Refund of duplicate payment {n}",
    "Freight and logistics, shipment {n}",
    "Marketing campaign, order {n}",
    "Deposit for project kickoff, contract {n}",
)
REJECTION_NOTES = (
    "Beneficiary IBAN does not match the supplier record.",
    "Amount differs from the approved purchase order.",
    "Missing supporting invoice.",
    "Duplicate of an already validated transfer.",
    "Suspicious activity flagged by compliance.",
)
TITLES_BY_TEAM: dict[str, tuple[str, ...]] = {
    "Operations": ("Operations Manager", "Operations Analyst", "Head of Operations"),
    "Support": ("Support Engineer", "Customer Success Manager", "Head of Support"),
    "Sales": ("Account Executive", "Sales Development Rep", "VP Sales"),
    "Finance": ("Accountant", "Financial Controller", "Chief Financial Officer"),
}
ACCOUNT_NAMES = (
    "Main account", "Savings", "Payroll", "Travel expenses", "Operations", "Marketing budget",
    "Tax reserve", "Petty cash",
)  # fmt: skip
INCOME_LABELS = (
    "Customer payment", "Subscription revenue", "Interest", "Refund received", "Grant",
    "Consulting fee", "Partner commission", "Licence sale",
)  # fmt: skip
OUTCOME_LABELS = (
    "Office rent", "Cloud hosting", "Software subscription", "Travel", "Team lunch",
    "Equipment", "Insurance premium", "Bank fees", "Utilities", "Advertising",
)  # fmt: skip
# RFC 2606 reserved domains: demo actions that send e-mail can never reach a real person.
PERSONAL_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
STAFF_EMAIL_DOMAIN = "actiondesk.example"

# country code -> (BBAN layout: "n" digit / "a" uppercase letter, BICs of that country)
_IBAN_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "FR": ("n" * 23, ("BNPAFRPPXXX", "SOGEFRPPXXX", "CRLYFRPPXXX", "AGRIFRPPXXX")),
    "DE": ("n" * 18, ("DEUTDEFFXXX", "COBADEFFXXX", "DRESDEFFXXX")),
    "ES": ("n" * 20, ("BSCHESMMXXX", "BBVAESMMXXX", "CAIXESBBXXX")),
    "NL": ("aaaa" + "n" * 10, ("INGBNL2AXXX", "ABNANL2AXXX", "RABONL2UXXX")),
    "BE": ("n" * 12, ("GEBABEBBXXX", "BBRUBEBBXXX", "KREDBEBBXXX")),
}
_IBAN_COUNTRIES = tuple(_IBAN_FORMATS)
_IBAN_COUNTRY_WEIGHTS = (50, 15, 15, 10, 10)


def _moment(rng: random.Random, since: datetime | None = None, max_days: int = 3 * 365) -> datetime:
    """A whole-second moment before BASE_DATE, no earlier than ``since`` when given."""
    span = max_days * _DAY
    if since is not None:
        span = min(span, int((BASE_DATE - since).total_seconds()))
    return BASE_DATE - timedelta(seconds=rng.randint(0, max(span, 0)))


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(_CENT)


def _rate(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(_CENT, rounding=ROUND_HALF_UP)


def make_iban(rng: random.Random) -> tuple[str, str]:
    """A random IBAN with valid ISO 13616 check digits, and a BIC of the same country."""
    country = rng.choices(_IBAN_COUNTRIES, weights=_IBAN_COUNTRY_WEIGHTS)[0]
    layout, bics = _IBAN_FORMATS[country]
    bban = "".join(
        rng.choice(string.digits if kind == "n" else string.ascii_uppercase) for kind in layout
    )
    # Check digits: move country + "00" to the end, letters become 10..35, then 98 - mod 97.
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}", rng.choice(bics)


def _unique_email(local: str, domain: str, taken: set[str]) -> str:
    local = "".join(ch for ch in local.lower() if ch.isalnum() or ch == ".")
    email = f"{local}@{domain}"
    n = 1
    while email in taken:
        n += 1
        email = f"{local}{n}@{domain}"
    taken.add(email)
    return email


def _slug(name: str) -> str:
    return "-".join(part.lower() for part in name.split())


class _Ref(NamedTuple):
    """What later tables need to know about a generated parent row."""

    id: int
    name: str
    created_at: datetime


def _companies(rng: random.Random, count: int) -> tuple[list[Row], list[_Ref]]:
    rows: list[Row] = []
    refs: list[_Ref] = []
    names: set[str] = set()
    for company_id in range(1, count + 1):
        name = f"{rng.choice(COMPANY_PREFIXES)} {rng.choice(COMPANY_SUFFIXES)}"
        if name in names:
            # 880 prefix/suffix pairs for 400 companies: disambiguate like real homonyms do.
            name = f"{name} {rng.choice(CITIES).split(',')[0]}"
        base_name, suffix = name, 2
        while name in names:
            name = f"{base_name} {suffix}"
            suffix += 1
        names.add(name)
        industry = rng.choice(INDUSTRIES)
        city = rng.choice(CITIES)
        description = None
        if rng.random() < 0.7:
            description = (
                f"{name} is a {industry.lower()} company headquartered in {city}. "
                f"{rng.choice(TAGLINES)}"
            )
        created_at = _moment(rng)
        rows.append(
            {
                "id": company_id,
                "name": name,
                "status": rng.choices(("live", "pending", "churned"), weights=(50, 30, 20))[0],
                "industry": industry,
                "headquarter": city,
                "description": description,
                "created_at": created_at,
            }
        )
        refs.append(_Ref(company_id, name, created_at))
    return rows, refs


def _customers(rng: random.Random, count: int, companies: Sequence[_Ref]) -> list[Row]:
    rows: list[Row] = []
    taken: set[str] = set()
    alnum = string.ascii_letters + string.digits
    for customer_id in range(1, count + 1):
        firstname = rng.choice(FIRSTNAMES)
        lastname = rng.choice(LASTNAMES)
        company = rng.choice(companies) if rng.random() < 0.85 else None
        if company is None:
            domain = rng.choice(PERSONAL_EMAIL_DOMAINS)
            created_at = _moment(rng)
        else:
            domain = f"{_slug(company.name)}.example"
            created_at = _moment(rng, since=company.created_at)
        rows.append(
            {
                "id": customer_id,
                "firstname": firstname,
                "lastname": lastname,
                "email": _unique_email(f"{firstname}.{lastname}", domain, taken),
                "stripe_id": "cus_" + "".join(rng.choices(alnum, k=14)),
                "company_id": None if company is None else company.id,
                "created_at": created_at,
            }
        )
    return rows


def _transactions(rng: random.Random, count: int, companies: Sequence[_Ref]) -> list[Row]:
    # One bank account per company, so a company shows the same IBAN on all its transfers.
    banking = [make_iban(rng) for _ in companies]
    rows: list[Row] = []
    n_companies = len(companies)
    for transaction_id in range(1, count + 1):
        emitter = rng.randrange(n_companies)
        beneficiary = rng.randrange(n_companies - 1)
        if beneficiary >= emitter:
            beneficiary += 1
        since = max(companies[emitter].created_at, companies[beneficiary].created_at)
        created_at = _moment(rng, since=since, max_days=2 * 365)
        # Log-uniform between 20 and 50,000: many small transfers, a few large ones.
        amount = _money(int(10 ** rng.uniform(3.3, 6.7)))
        status = rng.choices(("validated", "to_validate", "rejected"), weights=(60, 30, 10))[0]
        note = None
        if status == "rejected":
            note = rng.choice(REJECTION_NOTES)
        elif rng.random() < 0.35:
            note = rng.choice(TRANSACTION_NOTES).format(n=f"#{rng.randint(1000, 99999)}")
        rows.append(
            {
                "id": transaction_id,
                "emitter_company_id": companies[emitter].id,
                "beneficiary_company_id": companies[beneficiary].id,
                "amount": amount,
                "status": status,
                "note": note,
                "emitter_iban": banking[emitter][0],
                "beneficiary_iban": banking[beneficiary][0],
                "emitter_bic": banking[emitter][1],
                "beneficiary_bic": banking[beneficiary][1],
                "vat_amount": _rate(amount, _VAT_RATE),
                "fee_amount": _rate(amount, _FEE_RATE),
                "reference": f"TRX-{created_at:%Y%m%d}-{transaction_id:06d}",
                "created_at": created_at,
            }
        )
    return rows


def _users(rng: random.Random, count: int) -> tuple[list[Row], list[_Ref]]:
    rows: list[Row] = []
    refs: list[_Ref] = []
    taken: set[str] = set()
    for user_id in range(1, count + 1):
        firstname = rng.choice(FIRSTNAMES)
        lastname = rng.choice(LASTNAMES)
        team = rng.choice(USER_TEAMS)
        status = rng.choices(("active", "inactive", "invited"), weights=(75, 10, 15))[0]
        created_at = _moment(rng)
        last_seen_at = None
        if status == "active":
            last_seen_at = _moment(rng, since=created_at, max_days=30)
        elif status == "inactive":
            last_seen_at = _moment(rng, since=created_at)
        email = _unique_email(f"{firstname}.{lastname}", STAFF_EMAIL_DOMAIN, taken)
        rows.append(
            {
                "id": user_id,
                "firstname": firstname,
                "lastname": lastname,
                "email": email,
                "title": rng.choice(TITLES_BY_TEAM[team]),
                "team": team,
                "status": status,
                "last_seen_at": last_seen_at,
                "created_at": created_at,
            }
        )
        refs.append(_Ref(user_id, email, created_at))
    return rows, refs


def _accounts(
    rng: random.Random, count: int, users: Sequence[_Ref]
) -> tuple[list[Row], list[_Ref]]:
    rows: list[Row] = []
    refs: list[_Ref] = []
    for account_id in range(1, count + 1):
        # The first len(users) accounts give every user one; the rest are spread at random.
        user = users[account_id - 1] if account_id <= len(users) else rng.choice(users)
        name = rng.choice(ACCOUNT_NAMES)
        created_at = _moment(rng, since=user.created_at)
        rows.append(
            {
                "id": account_id,
                "name": name,
                "user_id": user.id,
                "currency": rng.choices(ACCOUNT_CURRENCIES, weights=(60, 25, 15))[0],
                "balance": Decimal("0.00"),
                "created_at": created_at,
            }
        )
        refs.append(_Ref(account_id, name, created_at))
    return rows, refs


def _movements(
    rng: random.Random,
    count: int,
    accounts: Sequence[_Ref],
    balances: dict[int, Decimal],
    *,
    sign: int,
    labels: Sequence[str],
    date_key: str,
    cents_range: tuple[int, int],
) -> list[Row]:
    rows: list[Row] = []
    for movement_id in range(1, count + 1):
        account = rng.choice(accounts)
        amount = _money(rng.randint(*cents_range))
        balances[account.id] += sign * amount
        rows.append(
            {
                "id": movement_id,
                "account_id": account.id,
                "amount": amount,
                "label": rng.choice(labels),
                date_key: _moment(rng, since=account.created_at, max_days=365),
            }
        )
    return rows


def generate_rows(rng: random.Random | None = None) -> dict[str, list[Row]]:
    """Build the whole demo dataset in memory, as table name -> rows in FK-safe order.

    Without ``rng`` a fresh ``random.Random(DEMO_SEED)`` is used, so every call returns equal
    rows. Ids are explicit and start at 1 in every table.
    """
    if rng is None:
        rng = random.Random(DEMO_SEED)  # noqa: S311 - deterministic demo data, no secret
    companies, company_refs = _companies(rng, DEMO_COUNTS["companies"])
    customers = _customers(rng, DEMO_COUNTS["customers"], company_refs)
    transactions = _transactions(rng, DEMO_COUNTS["transactions"], company_refs)
    users, user_refs = _users(rng, DEMO_COUNTS["users"])
    accounts, account_refs = _accounts(rng, DEMO_COUNTS["accounts"], user_refs)
    # Balances agree with the account's movements, so aggregates in the panel add up.
    balances = {ref.id: Decimal("0.00") for ref in account_refs}
    incomes = _movements(
        rng,
        DEMO_COUNTS["incomes"],
        account_refs,
        balances,
        sign=1,
        labels=INCOME_LABELS,
        date_key="received_at",
        cents_range=(5_000, 800_000),
    )
    outcomes = _movements(
        rng,
        DEMO_COUNTS["outcomes"],
        account_refs,
        balances,
        sign=-1,
        labels=OUTCOME_LABELS,
        date_key="spent_at",
        cents_range=(500, 300_000),
    )
    for account, ref in zip(accounts, account_refs, strict=True):
        account["balance"] = balances[ref.id]
    return {
        "companies": companies,
        "customers": customers,
        "transactions": transactions,
        "users": users,
        "accounts": accounts,
        "incomes": incomes,
        "outcomes": outcomes,
    }


async def _reset_postgresql_sequences(conn: AsyncConnection, table_names: Sequence[str]) -> None:
    # Explicit ids do not advance PostgreSQL sequences; without this the first row created
    # through the panel would collide with id 1.
    for name in table_names:
        table = DemoBase.metadata.tables[name]
        await conn.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(name, "id"),
                    select(func.max(table.c.id)).scalar_subquery(),
                )
            )
        )


async def seed_demo(database_url: str) -> bool:
    """Create the demo tables at ``database_url`` (an async SQLAlchemy URL) and fill them.

    Returns True when the dataset was inserted, False when ``companies`` already held rows
    (nothing is inserted then). The inserts run in a single transaction.
    """
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(DemoBase.metadata.create_all)
            if await conn.scalar(select(Company.id).limit(1)) is not None:
                return False
            dataset = generate_rows()
            for name, rows in dataset.items():
                table = DemoBase.metadata.tables[name]
                for start in range(0, len(rows), CHUNK_SIZE):
                    await conn.execute(insert(table), rows[start : start + CHUNK_SIZE])
            if conn.dialect.name == "postgresql":
                await _reset_postgresql_sequences(conn, list(dataset))
        return True
    finally:
        await engine.dispose()
