"""Printed documents (certificates, attendance sheets) and the jobs that render them."""
