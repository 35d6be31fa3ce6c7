class PortfolioRuleViolation(Exception):
    """A request the money rules refuse. The API turns it into a 422 with `code` and `field`."""

    def __init__(self, message: str, *, code: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status
