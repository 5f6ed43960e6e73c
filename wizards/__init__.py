from . import crm_lead_won
from . import crm_lead_lost
from . import crm_lead_forecast
from . import crm_lead_forecast_line
from . import crm_lead_forecast_series
from . import crm_lead_forecast_calibration
