"""Pages of the participants app, one module per area: operator nomination, spreadsheet import, staff
review and the people registry."""
