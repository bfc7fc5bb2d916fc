"""poscrm: the customer back end of a point-of-sale system."""
