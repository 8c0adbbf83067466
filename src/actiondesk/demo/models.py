"""SQLAlchemy models of the demo dataset (companies, customers, transactions, users, accounts)."""

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Enum, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

COMPANY_STATUSES: tuple[str, ...] = ("pending", "live", "churned")
TRANSACTION_STATUSES: tuple[str, ...] = ("to_validate", "validated", "rejected")
USER_STATUSES: tuple[str, ...] = ("active", "inactive", "invited")
USER_TEAMS: tuple[str, ...] = ("Operations", "Support", "Sales", "Finance")
ACCOUNT_CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP")


# Python-side defaults (the tables are unchanged): the demo's New forms leave these read-only
# fields out, and the insert fills them.
def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _stripe_id() -> str:
    return "cus_" + secrets.token_hex(7)


class DemoBase(DeclarativeBase):
    """Declarative base of the demo tables; kept apart from any application metadata."""


class Company(DemoBase):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(
        Enum(*COMPANY_STATUSES, name="company_status", native_enum=False, create_constraint=True),
        default="pending",
        index=True,
    )
    industry: Mapped[str] = mapped_column(String(60))
    headquarter: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)

    emitted_transactions: Mapped[list["Transaction"]] = relationship(
        back_populates="emitter_company", foreign_keys="Transaction.emitter_company_id"
    )
    received_transactions: Mapped[list["Transaction"]] = relationship(
        back_populates="beneficiary_company", foreign_keys="Transaction.beneficiary_company_id"
    )
    customers: Mapped[list["Customer"]] = relationship(back_populates="company")

    def __repr__(self) -> str:
        return f"Company(id={self.id!r}, name={self.name!r})"


class Customer(DemoBase):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    firstname: Mapped[str] = mapped_column(String(80))
    lastname: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    stripe_id: Mapped[str] = mapped_column(String(40), default=_stripe_id)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)

    company: Mapped[Company | None] = relationship(back_populates="customers")

    def __repr__(self) -> str:
        return f"Customer(id={self.id!r}, email={self.email!r})"


class Transaction(DemoBase):
    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    emitter_company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    beneficiary_company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    status: Mapped[str] = mapped_column(
        Enum(
            *TRANSACTION_STATUSES,
            name="transaction_status",
            native_enum=False,
            create_constraint=True,
        ),
        default="to_validate",
        index=True,
    )
    note: Mapped[str | None] = mapped_column(Text)
    emitter_iban: Mapped[str] = mapped_column(String(34))
    beneficiary_iban: Mapped[str] = mapped_column(String(34))
    emitter_bic: Mapped[str] = mapped_column(String(11))
    beneficiary_bic: Mapped[str] = mapped_column(String(11))
    vat_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    fee_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    reference: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)

    emitter_company: Mapped[Company] = relationship(
        back_populates="emitted_transactions", foreign_keys=[emitter_company_id]
    )
    beneficiary_company: Mapped[Company] = relationship(
        back_populates="received_transactions", foreign_keys=[beneficiary_company_id]
    )

    def __repr__(self) -> str:
        return f"Transaction(id={self.id!r}, reference={self.reference!r})"


class User(DemoBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    firstname: Mapped[str] = mapped_column(String(80))
    lastname: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(80))
    team: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(
        Enum(*USER_STATUSES, name="user_status", native_enum=False, create_constraint=True),
        default="invited",
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    accounts: Mapped[list["Account"]] = relationship(back_populates="user")

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"


class Account(DemoBase):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal] = mapped_column(Numeric(14, 2, asdecimal=True))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="accounts")
    incomes: Mapped[list["Income"]] = relationship(back_populates="account")
    outcomes: Mapped[list["Outcome"]] = relationship(back_populates="account")

    def __repr__(self) -> str:
        return f"Account(id={self.id!r}, name={self.name!r})"


class Income(DemoBase):
    __tablename__ = "incomes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    label: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(DateTime)

    account: Mapped[Account] = relationship(back_populates="incomes")

    def __repr__(self) -> str:
        return f"Income(id={self.id!r}, amount={self.amount!r})"


class Outcome(DemoBase):
    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    label: Mapped[str] = mapped_column(String(120))
    spent_at: Mapped[datetime] = mapped_column(DateTime)

    account: Mapped[Account] = relationship(back_populates="outcomes")

    def __repr__(self) -> str:
        return f"Outcome(id={self.id!r}, amount={self.amount!r})"
