#!/usr/bin/env python
"""Django's command-line utility for the console."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
    from django.core.management import execute_from_command_line

    from settings.files import restrict_new_files

    restrict_new_files()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
