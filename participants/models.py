"""People (the NIK registry), nominations and enrolments. Filled in by the nomination work."""
