"""The demo's actions: Forest Admin's Live Demo actions and Jet Admin's account transfer.

Each one shows a feature of the engine on the demo dataset:

=========================  ============  ======  ==========================================
action                     collection    scope   shows
=========================  ============  ======  ==========================================
Mark as Live               companies     single  ``enabled_if`` + a reason; set-based update
Charge credit card         customers     single  a validated form; an HTML answer
Generate invoice           customers     single  a file download (a PDF built with fpdf2)
Add new transaction        companies     single  a reference field; refreshing a relationship
Return and track           customers     single  a redirect to an external http(s) URL
Show some activity         companies     single  a redirect to an internal, filtered list
Mail users                 users         bulk    streaming a selection in batches
Refresh users status       users         global  a sync handler (worker thread, sync engine)
Account transfer           accounts      single  a Jet ``params`` form; one DB transaction
Notify Slack               transactions  single  a webhook answer
=========================  ============  ======  ==========================================

``random`` only derives demo values (invoice lines, bank details) from record ids: seeded
``random.Random`` instances, not security (ruff S311).
"""

from __future__ import annotations

import hashlib
import html
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any, cast
from urllib.parse import quote

import anyio.to_thread
import sqlalchemy as sa

from actiondesk import fields as f
from actiondesk.actions.context import ActionContext
from actiondesk.actions.results import (
    ActionError,
    Error,
    File,
    Html,
    Redirect,
    Refresh,
    Success,
    Webhook,
)
from actiondesk.actions.selection import Selection
from actiondesk.data.filters import Condition
from actiondesk.data.record_ids import encode_id
from actiondesk.demo.models import Account, Company, Customer, Income, Outcome, Transaction, User
from actiondesk.demo.seed import BASE_DATE, make_iban
from actiondesk.desk import Desk

__all__ = ["ACCOUNT_TRANSFER_PARAMS", "SLACK_WEBHOOK_URL", "register_demo_actions"]

# The mapped classes' ``__table__`` is typed as a FromClause; these are the Tables.
COMPANIES = cast(sa.Table, Company.__table__)
CUSTOMERS = cast(sa.Table, Customer.__table__)
TRANSACTIONS = cast(sa.Table, Transaction.__table__)
USERS = cast(sa.Table, User.__table__)
ACCOUNTS = cast(sa.Table, Account.__table__)
INCOMES = cast(sa.Table, Income.__table__)
OUTCOMES = cast(sa.Table, Outcome.__table__)

# Example endpoints: never fetched by the server (a webhook is called by the browser).
SLACK_WEBHOOK_URL = "https://hooks.example.com/services/demo"
TRACKING_URL = "https://www.royalmail.com/track-your-item#/tracking-results/"

INACTIVE_AFTER = timedelta(days=90)
CENT = Decimal("0.01")
VAT_RATE = Decimal("0.2")  # as the seed computes transactions' VAT and fees
FEE_RATE = Decimal("0.005")
MAX_AMOUNT = Decimal("1000000")

INVOICE_CATALOG: tuple[tuple[str, Decimal], ...] = (
    ("Platform subscription (monthly)", Decimal("49.00")),
    ("Additional seat", Decimal("12.00")),
    ("Premium support", Decimal("99.00")),
    ("Data export add-on", Decimal("19.00")),
    ("Onboarding session", Decimal("150.00")),
    ("API calls (per 10,000)", Decimal("5.00")),
)


def _selection(ctx: ActionContext) -> Selection:
    if ctx.selection is None:
        raise ActionError("Select a record first.")
    return ctx.selection


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def _rate(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(amount: Decimal, what: str = "The amount") -> Decimal:
    """A positive amount with at most two decimals, as the money columns hold."""
    if amount <= 0:
        raise ActionError(f"{what} must be positive.")
    if amount > MAX_AMOUNT:
        raise ActionError(f"{what} must be at most {_money(MAX_AMOUNT)}.")
    if amount != amount.quantize(CENT):
        raise ActionError(f"{what} has more than two decimals.")
    return amount.quantize(CENT)


def _utc_naive(moment: datetime | None) -> datetime:
    """The demo's DateTime columns hold naive UTC, to the second."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def masked_card(stripe_id: str) -> str:
    """The card of a Stripe customer as a support agent may see it: the last four digits,
    derived from the customer's stripe id (the demo has no real cards)."""
    last4 = int(hashlib.sha256(stripe_id.encode()).hexdigest(), 16) % 10_000
    return f"**** **** **** {last4:04d}"


# -- invoices -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    label: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


def invoice_lines(customer_id: int) -> list[InvoiceLine]:
    """Two to four catalogue lines, the same every time for a given customer."""
    rng = random.Random(f"invoice:{customer_id}")  # noqa: S311 - demo data
    picked = rng.sample(INVOICE_CATALOG, k=rng.randint(2, 4))
    return [InvoiceLine(label, rng.randint(1, 5), price) for label, price in picked]


def _latin1(text: str) -> str:
    # fpdf2's core fonts cover Latin-1 only; anything else shows as "?" rather than failing.
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(
    number: str, customer: dict[str, Any], company: str | None, lines: list[InvoiceLine]
) -> bytes:
    """A one-page PDF invoice (CPU-bound: run it in a worker thread)."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_creation_date(BASE_DATE.replace(tzinfo=UTC))
    pdf.set_title(f"Invoice {number}")
    pdf.set_author("actiondesk demo")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 20)
    pdf.cell(0, 12, f"Invoice {number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 11)
    name = f"{customer['firstname']} {customer['lastname']}"
    for text in (
        f"Date: {BASE_DATE:%Y-%m-%d}",
        f"Billed to: {name} <{customer['email']}>",
        f"Company: {company or 'Individual customer'}",
        f"Customer id: {customer['id']} (Stripe {customer['stripe_id']})",
    ):
        pdf.cell(0, 7, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    widths = (95, 25, 35, 35)
    pdf.set_font("helvetica", "B", 11)
    for width, title in zip(widths, ("Item", "Qty", "Unit price", "Total"), strict=True):
        pdf.cell(width, 8, title, border=1, align="L" if title == "Item" else "R")
    pdf.ln()
    pdf.set_font("helvetica", "", 11)
    for line in lines:
        cells = (line.label, str(line.quantity), _money(line.unit_price), _money(line.total))
        for index, (width, text) in enumerate(zip(widths, cells, strict=True)):
            pdf.cell(width, 8, _latin1(text), border=1, align="L" if index == 0 else "R")
        pdf.ln()
    subtotal = sum((line.total for line in lines), Decimal(0))
    vat = _rate(subtotal, VAT_RATE)
    for label, amount, style in (
        ("Subtotal (EUR)", subtotal, ""), ("VAT 20%", vat, ""), ("Total (EUR)", subtotal + vat, "B")
    ):
        pdf.set_font("helvetica", style, 11)
        pdf.cell(sum(widths[:3]), 8, label, align="R")
        pdf.cell(widths[3], 8, _money(amount), border=1, align="R", new_x=XPos.LMARGIN,
                 new_y=YPos.NEXT)
    pdf.ln(10)
    pdf.set_font("helvetica", "I", 9)
    pdf.cell(0, 6, "Demo invoice generated by actiondesk. Nothing is owed.")
    return bytes(pdf.output())


# -- transactions ---------------------------------------------------------------------------


async def _bank_details(conn: Any, company_id: int) -> tuple[str, str]:
    """A company's IBAN and BIC as its latest transaction shows them, or generated (valid
    check digits, the same every time) for a company that never made one."""
    t = TRANSACTIONS
    for iban, bic, company in (
        (t.c.emitter_iban, t.c.emitter_bic, t.c.emitter_company_id),
        (t.c.beneficiary_iban, t.c.beneficiary_bic, t.c.beneficiary_company_id),
    ):
        query = sa.select(iban, bic).where(company == company_id).order_by(t.c.id.desc())
        row = (await conn.execute(query.limit(1))).first()
        if row is not None:
            return str(row[0]), str(row[1])
    return make_iban(random.Random(f"iban:{company_id}"))  # noqa: S311 - demo data


def activity_filter(company_id: int) -> dict[str, Any]:
    return {"aggregator": "and", "conditions": [
        {"field": "emitter_company_id", "operator": "equal", "value": company_id},
    ]}


# -- account transfer (Jet's example) ------------------------------------------------------


# The source is the selected record, never a form value: permissions, ``enabled_if`` and an
# approval's frozen selection all concern the selection, so a form field naming the source
# would let a caller debit any account. Only the target is chosen in the form.
ACCOUNT_TRANSFER_PARAMS: list[dict[str, Any]] = [
    {"name": "to_account", "verbose_name": "To account", "field": "ForeignKey",
     "required": True, "params": {"related_model": {"model": "accounts"}},
     "description": "The money leaves the selected account for this one."},
    {"name": "amount", "verbose_name": "Amount", "field": "DecimalField", "required": True},
    {"name": "comment", "verbose_name": "Comment", "field": "TextField", "required": False},
    {"name": "date", "verbose_name": "Date", "field": "DateTimeField", "required": False,
     "description": "When the transfer happens; now if empty."},
]


def register_demo_actions(desk: Desk) -> None:
    """Declare the demo's actions on ``desk`` (a desk over the demo models)."""

    @desk.action(
        "companies",
        name="Mark as Live",
        description="Switch a pending or churned company to live.",
        enabled_if=Condition("status", "not_equal", "live"),
        disabled_reason="The company was already live!",
    )
    async def mark_as_live(ctx: ActionContext) -> Success | Error:
        selection = _selection(ctx)
        # Conditional, so a company made live by someone else meanwhile is not "changed".
        statement = (
            sa.update(COMPANIES)
            .where(selection.where, COMPANIES.c.status != "live")
            .values(status="live")
        )
        async with ctx.async_db.begin() as conn:
            changed = (await conn.execute(statement)).rowcount
        if changed == 0:
            return Error("The company was already live!")
        return Success("Company is now live!")

    @desk.action(
        "customers",
        name="Charge credit card",
        description="Charge the customer's card on file (simulated: no payment is made).",
        form=[
            f.Decimal("amount", required=True, min="0.01", max=str(MAX_AMOUNT),
                      description="The amount to charge, in euros (at least 0.01)."),
            f.Text("description", required=True,
                   description="Shown on the customer's card statement."),
        ],
    )
    async def charge_credit_card(ctx: ActionContext) -> Html:
        customer = await _selection(ctx).record()
        amount = _cents(ctx.values["amount"])
        name = f"{customer['firstname']} {customer['lastname']}"
        return Html(
            '<div class="charge-receipt">'
            '<p class="charge-status charge-status--success">Payment accepted</p>'
            '<dl class="charge-details">'
            f'<dt>Customer</dt><dd>{html.escape(name)}</dd>'
            f'<dt>Card</dt><dd class="card-number">{masked_card(customer["stripe_id"])}</dd>'
            f'<dt>Amount</dt><dd class="charge-amount">{_money(amount)} EUR</dd>'
            f'<dt>Description</dt><dd>{html.escape(ctx.values["description"])}</dd>'
            "</dl></div>"
        )

    @desk.action(
        "customers",
        name="Generate invoice",
        description="Download this customer's invoice as a PDF.",
        download=True,
    )
    async def generate_invoice(ctx: ActionContext) -> File:
        customer = await _selection(ctx).record()
        company = None
        if customer["company_id"] is not None:
            query = sa.select(COMPANIES.c.name).where(COMPANIES.c.id == customer["company_id"])
            async with ctx.async_db.connect() as conn:
                company = (await conn.execute(query)).scalar_one_or_none()
        number = f"INV-{BASE_DATE:%Y%m}-{customer['id']:06d}"
        build = partial(invoice_pdf, number, customer, company, invoice_lines(customer["id"]))
        content = await anyio.to_thread.run_sync(build)
        return File(filename=f"invoice-{customer['id']}.pdf", content=content,
                    mime="application/pdf")

    @desk.action(
        "companies",
        name="Add new transaction",
        description="Emit a transfer from this company; it waits for validation.",
        form=[
            f.Reference("beneficiary_company", reference="companies",
                        label="Beneficiary company", required=True),
            f.Decimal("amount", required=True, min="0.01", max=str(MAX_AMOUNT)),
        ],
    )
    async def add_new_transaction(ctx: ActionContext) -> Refresh:
        emitter = await _selection(ctx).record()
        beneficiary_id = int(ctx.values["beneficiary_company"])
        if beneficiary_id == emitter["id"]:
            raise ActionError("A company cannot send a transaction to itself.")
        amount = _cents(ctx.values["amount"])
        now = _utc_naive(None)
        async with ctx.async_db.begin() as conn:
            emitter_iban, emitter_bic = await _bank_details(conn, emitter["id"])
            beneficiary_iban, beneficiary_bic = await _bank_details(conn, beneficiary_id)
            inserted = await conn.execute(sa.insert(TRANSACTIONS).values(
                emitter_company_id=emitter["id"], beneficiary_company_id=beneficiary_id,
                amount=amount, status="to_validate", note=None,
                emitter_iban=emitter_iban, emitter_bic=emitter_bic,
                beneficiary_iban=beneficiary_iban, beneficiary_bic=beneficiary_bic,
                vat_amount=_rate(amount, VAT_RATE), fee_amount=_rate(amount, FEE_RATE),
                reference="pending", created_at=now,
            ))
            # The reference embeds the id (as the seed's do), known only once inserted.
            key = inserted.inserted_primary_key
            if key is None:  # pragma: no cover - every demo backend returns the new id
                raise ActionError("The database did not return the new transaction's id.")
            new_id = key[0]
            await conn.execute(
                sa.update(TRANSACTIONS).where(TRANSACTIONS.c.id == new_id)
                .values(reference=f"TRX-{now:%Y%m%d}-{new_id:06d}")
            )
        return Refresh(["emitted_transactions"], message="New transaction emitted")

    @desk.action(
        "customers",
        name="Return and track",
        description="Open the carrier's tracking page of this customer's return parcel.",
    )
    async def return_and_track(ctx: ActionContext) -> Redirect:
        customer = await _selection(ctx).record()
        parcel = int(hashlib.sha256(customer["stripe_id"].encode()).hexdigest(), 16) % 10**9
        return Redirect(f"{TRACKING_URL}RM{parcel:09d}GB")

    @desk.action(
        "companies",
        name="Show some activity",
        description="List the transactions this company emitted.",
    )
    async def show_some_activity(ctx: ActionContext) -> Redirect:
        company = await _selection(ctx).record()
        text = json.dumps(activity_filter(company["id"]), separators=(",", ":"))
        return Redirect(f"/collections/transactions?filter={quote(text, safe='')}")

    @desk.action(
        "users",
        name="Mail users",
        scope="bulk",
        description="Queue an e-mail to the selected users. A demo: no mail is sent.",
        form=[
            f.String("subject", required=True, max_length=200),
            f.Text("body", required=True),
        ],
    )
    async def mail_users(ctx: ActionContext) -> Success:
        recipients = 0
        async for batch in _selection(ctx).batches():
            # A real handler would enqueue one message per row here, batch by batch.
            recipients += sum(1 for user in batch if user["email"])
        return Success(f"Mail queued for {recipients} users")

    @desk.action(
        "users",
        name="Refresh users status",
        scope="global",
        description=(
            f"Users not seen in the {INACTIVE_AFTER.days} days before the demo date "
            f"({BASE_DATE:%Y-%m-%d}) become inactive; inactive users seen since become "
            "active. Invited users are left alone."
        ),
    )
    def refresh_users_status(ctx: ActionContext) -> Success:
        # A sync handler: it runs in a worker thread, with a sync engine (pysqlite here).
        cutoff = BASE_DATE - INACTIVE_AFTER
        users = USERS
        gone = (
            sa.update(users)
            .where(users.c.status == "active",
                   sa.or_(users.c.last_seen_at.is_(None), users.c.last_seen_at < cutoff))
            .values(status="inactive")
        )
        back = (
            sa.update(users)
            .where(users.c.status == "inactive", users.c.last_seen_at >= cutoff)
            .values(status="active")
        )
        with ctx.sync_db.begin() as conn:
            inactive = conn.execute(gone).rowcount
            active = conn.execute(back).rowcount
        return Success(
            f"{inactive + active} users changed status: {inactive} now inactive, "
            f"{active} active again"
        )

    @desk.action(
        "accounts",
        name="Account transfer",
        description="Move money from this account to another of the same currency (Jet's "
        "example).",
        form=f.jet_params(ACCOUNT_TRANSFER_PARAMS),
    )
    async def account_transfer(ctx: ActionContext) -> Success:
        values = ctx.values
        source_id = (await _selection(ctx).record())["id"]
        target_id = int(values["to_account"])
        if source_id == target_id:
            raise ActionError("The source and the target are the same account.")
        amount = _cents(values["amount"])
        when = _utc_naive(values.get("date"))
        comment = (values.get("comment") or "").strip()
        accounts = ACCOUNTS
        async with ctx.async_db.begin() as conn:
            rows = (await conn.execute(
                sa.select(accounts).where(accounts.c.id.in_([source_id, target_id]))
            )).mappings().all()
            by_id = {row["id"]: row for row in rows}
            source, target = by_id[source_id], by_id[target_id]
            if source["currency"] != target["currency"]:
                raise ActionError(
                    f"The accounts hold different currencies ({source['currency']} and "
                    f"{target['currency']}); this demo does not convert."
                )
            currency = source["currency"]
            if source["balance"] < amount:
                raise ActionError(
                    f"Insufficient balance: {source['name']} #{source_id} holds "
                    f"{_money(source['balance'])} {currency}."
                )
            # Optimistic: each balance changes only if nobody changed it since it was read,
            # which holds on every backend (SQLite ignores SELECT ... FOR UPDATE).
            for row, delta in ((source, -amount), (target, amount)):
                moved = await conn.execute(
                    sa.update(accounts)
                    .where(accounts.c.id == row["id"], accounts.c.balance == row["balance"])
                    .values(balance=row["balance"] + delta)
                )
                if moved.rowcount != 1:
                    raise ActionError("A balance changed during the transfer; try again.")
            note = f" - {comment}" if comment else ""
            await conn.execute(sa.insert(OUTCOMES).values(
                account_id=source_id, amount=amount, spent_at=when,
                label=f"Transfer to account #{target_id}{note}"[:120],
            ))
            await conn.execute(sa.insert(INCOMES).values(
                account_id=target_id, amount=amount, received_at=when,
                label=f"Transfer from account #{source_id}{note}"[:120],
            ))
        return Success(
            f"Transferred {_money(amount)} {currency} from {source['name']} #{source_id} "
            f"to {target['name']} #{target_id}"
        )

    @desk.action(
        "transactions",
        name="Notify Slack",
        description="Post this transaction to the finance channel (the browser calls the "
        "webhook; the demo URL goes nowhere).",
    )
    async def notify_slack(ctx: ActionContext) -> Webhook:
        transaction = await _selection(ctx).record()
        parties = (transaction["emitter_company_id"], transaction["beneficiary_company_id"])
        query = sa.select(COMPANIES.c.id, COMPANIES.c.name).where(COMPANIES.c.id.in_(parties))
        async with ctx.async_db.connect() as conn:
            name_of = {row.id: row.name for row in await conn.execute(query)}
        names = [name_of.get(company_id, f"company #{company_id}") for company_id in parties]
        amount = _money(transaction["amount"])
        return Webhook(
            url=SLACK_WEBHOOK_URL,
            method="POST",
            headers={"Content-Type": "application/json"},
            body={
                "text": f"Transaction {transaction['reference']}: {names[0]} -> {names[1]}, "
                        f"{amount} EUR ({transaction['status']})",
                "transaction": {
                    "id": encode_id(_selection(ctx).collection, [transaction["id"]]),
                    "reference": transaction["reference"],
                    "amount": str(transaction["amount"]),
                    "status": transaction["status"],
                },
            },
        )
