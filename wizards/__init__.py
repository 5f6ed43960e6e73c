from . import crm_lead_won
from . import crm_lead_lost
