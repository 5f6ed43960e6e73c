from . import crm_invoicing_analysis
from . import crm_lead_forecast_report
