"""How the demo's collections read: record labels, field labels and formats."""

from __future__ import annotations

from actiondesk.data.display import FieldDisplay
from actiondesk.desk import Desk

EUR = FieldDisplay(format="money", currency="EUR")


def declare_demo_display(desk: Desk) -> None:
    desk.display("companies", fields={
        "headquarter": FieldDisplay(label="Headquarters"),
        "created_at": FieldDisplay(label="Created"),
    })
    desk.display("customers", record_label="{firstname} {lastname}", fields={
        "firstname": FieldDisplay(label="First name"),
        "lastname": FieldDisplay(label="Last name"),
        "email": FieldDisplay(format="email"),
        "stripe_id": FieldDisplay(label="Stripe ID", description="The customer in Stripe."),
        "created_at": FieldDisplay(label="Created"),
    })
    desk.display("transactions", record_label="reference", fields={
        "emitter_company_id": FieldDisplay(label="Emitter"),
        "beneficiary_company_id": FieldDisplay(label="Beneficiary"),
        "amount": EUR,
        "vat_amount": FieldDisplay(label="VAT", format="money", currency="EUR"),
        "fee_amount": FieldDisplay(label="Fee", format="money", currency="EUR"),
        "status": FieldDisplay(enum_labels={"to_validate": "To validate"},
                               description="Transactions to validate wait for a check."),
        "created_at": FieldDisplay(label="Created"),
    })
    desk.display("users", record_label="{firstname} {lastname}", fields={
        "firstname": FieldDisplay(label="First name"),
        "lastname": FieldDisplay(label="Last name"),
        "email": FieldDisplay(format="email"),
        "title": FieldDisplay(label="Job title"),
        "last_seen_at": FieldDisplay(label="Last seen", format="relative"),
        "created_at": FieldDisplay(label="Created"),
    })
    desk.display("accounts", fields={
        "user_id": FieldDisplay(label="Owner"),
        "balance": FieldDisplay(format="money", currency_field="currency"),
        "created_at": FieldDisplay(label="Opened"),
    })
    for name, when in (("incomes", "received_at"), ("outcomes", "spent_at")):
        desk.display(name, fields={
            "amount": FieldDisplay(format="number", decimals=2,
                                   description="In the account's currency."),
            when: FieldDisplay(format="datetime"),
        })
