"""``manage.py demo_data [--orders 300] [--seed 1] [--force]``: demo customers, companies and orders.

Everything is written through the services (origin "system", actor "demo_data"), so the data looks like real
traffic: normalised phones, valid INNs, server-computed totals, status history. Skips when demo data
(customers with an e-mail at demo.example.ru) already exists, unless ``--force``.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from console.customers.models import Customer
from console.customers.normalize import normalize_phone
from console.customers.services import customer_find_or_create
from console.orders.models import Order, Product
from console.orders.services import order_create

DEMO_TAG = "demo"
DEMO_EMAIL_DOMAIN = "@demo.example.ru"  # marks demo customers (portable, unlike JSON lookups)
MALE_FIRST = [
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Иван",
    "Михаил",
    "Никита",
    "Егор",
]
FEMALE_FIRST = [
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Екатерина",
    "Татьяна",
    "Ирина",
    "Ксения",
    "Дарья",
]
SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
]
COMPANY_NAMES = [
    "Праздник Плюс",
    "Ивент Сервис",
    "Белый Зал",
    "Северная Звезда",
    "Гранд Кейтеринг",
    "Свадебный Дом",
    "Арт Декор",
    "Городские События",
    "Event Lab",
    "Ресторан Купол",
    "Лофт Пространство",
    "Бизнес Форум",
]
STREETS = ["ул. Тверская", "Ленинский пр-т", "ул. Арбат", "Кутузовский пр-т", "ул. Покровка", "Цветной б-р"]
# Statuses and how their dates sit around today (days from today for installation).
STATUS_WINDOWS: dict[str, tuple[int, int]] = {
    Order.Status.NEW: (3, 90),
    Order.Status.RESERVED: (2, 60),
    Order.Status.IN_PROGRESS: (0, 3),
    Order.Status.IN_RENT: (-10, -1),
    Order.Status.ARCHIVED: (-365, -15),
    Order.Status.CANCELLED: (-120, 60),
}
STATUS_WEIGHTS = [25, 20, 10, 15, 20, 10]


def inn_with_checksum(rng: random.Random) -> str:
    """A random 10-digit organisation INN with a correct check digit."""
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


def demo_phone(rng: random.Random) -> str:
    """A valid Russian mobile number, spelled the way people type it."""
    while True:
        digits = f"9{rng.randint(10, 99)}{rng.randint(0, 9999999):07d}"
        spelled = rng.choice(
            [
                f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
                f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
                f"+7{digits}",
            ]
        )
        try:
            normalize_phone(spelled)
        except Exception:  # noqa: BLE001 (an unassigned range: draw again)
            continue
        return spelled


class Command(BaseCommand):
    help = "Load demo customers (individual and business) and orders across all statuses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=300, help="number of orders (default 300)")
        parser.add_argument("--customers", type=int, default=80, help="number of customers (default 80)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--force", action="store_true", help="load even if demo data is already there")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["force"] and Customer.objects.filter(email__endswith=DEMO_EMAIL_DOMAIN).exists():
            self.stdout.write("Demo data already loaded; use --force to add more.")
            return
        rng = random.Random(options["seed"])
        products = list(Product.objects.filter(is_active=True))
        if not products:
            self.stderr.write("The product catalog is empty: run migrate first.")
            return
        with transaction.atomic():
            customers = [self._customer(rng, i) for i in range(max(1, options["customers"]))]
            for _ in range(max(0, options["orders"])):
                self._order(rng, customers, products)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {len(set(c.pk for c in customers))} customers and {options['orders']} orders."
            )
        )

    def _customer(self, rng: random.Random, index: int) -> Customer:
        female = rng.random() < 0.5
        first = rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        last = rng.choice(SURNAMES) + ("а" if female else "")
        data: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "phone": demo_phone(rng),
            "email": f"client{index}.{rng.randint(1000, 9999)}{DEMO_EMAIL_DOMAIN}",
            "tags": [DEMO_TAG],
        }
        if index % 4 == 3:
            name = rng.choice(COMPANY_NAMES)
            data["customer_type"] = Customer.Type.BUSINESS
            data["company_data"] = {
                "name": f"ООО «{name}»",
                "legal_name": f"Общество с ограниченной ответственностью «{name}»",
                "inn": inn_with_checksum(rng),
                "legal_address": f"г. Москва, {rng.choice(STREETS)}, д. {rng.randint(1, 120)}",
            }
        customer, _created = customer_find_or_create(data=data)
        return customer

    def _order(self, rng: random.Random, customers: list[Customer], products: list[Product]) -> Order:
        status = rng.choices(list(STATUS_WINDOWS), weights=STATUS_WEIGHTS)[0]
        low, high = STATUS_WINDOWS[status]
        start = timezone.localdate() + datetime.timedelta(days=rng.randint(low, high))
        method = rng.choice(Order.DeliveryMethod.values)
        lines = rng.sample(products, k=rng.randint(1, 5))
        data = {
            "customer": rng.choice(customers),
            "status": status,
            "installation_date": start,
            "dismantle_date": start + datetime.timedelta(days=rng.choice([0, 1, 1, 2, 3, 7])),
            "delivery_method": method,
            "delivery_address": ""
            if method == Order.DeliveryMethod.PICKUP
            else f"г. Москва, {rng.choice(STREETS)}, д. {rng.randint(1, 120)}",
            "comment": rng.choice(["", "", "Свадьба", "Корпоратив", "День рождения", "Выставка"]),
            "source": rng.choice(Order.Source.values),
            "sync_disabled": rng.random() < 0.05,
            "items": [{"product": p, "quantity": rng.randint(1, 60)} for p in lines],
        }
        return order_create(data=data, origin="system", actor="demo_data")
