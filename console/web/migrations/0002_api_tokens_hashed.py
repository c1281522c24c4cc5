"""API tokens move from rest_framework.authtoken (kept in plain text) to django-rest-knox (kept as digests).

Each existing token becomes a knox token with the same value, so clients keep working with the header they
send; its plain copy is deleted. Without the old table (a new installation) there is nothing to do.
"""

from django.db import migrations
from knox.crypto import hash_token
from knox.settings import CONSTANTS

OLD_TABLE = "authtoken_token"


def hash_plain_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {OLD_TABLE}")
        for key, user_id in cursor.fetchall():
            AuthToken.objects.get_or_create(
                digest=hash_token(key),
                defaults={"token_key": key[: CONSTANTS.TOKEN_KEY_LENGTH], "user_id": user_id, "expiry": None},
            )
        cursor.execute(f"DELETE FROM {OLD_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("web", "0001_roles"), ("knox", "0009_extend_authtoken_field")]
    operations = [migrations.RunPython(hash_plain_tokens, migrations.RunPython.noop, elidable=True)]
