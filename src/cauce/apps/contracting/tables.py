"""The raw tables the indicators read, and the columns (with their raw-zone types) each needs.

The raw zone follows the original's data-lake names and types (contracting-sources §1); this is
the part of it the indicators depend on, so a raw file that lacks a column fails with one line
naming it instead of a query error deep in an engine.
"""

from __future__ import annotations

import pyarrow as pa

PROCESOS = "t_seii_procecotrata_compraadjudi"
OFERTAS = "t_seii_ofertaproces_procesocompr"
RUES = "t_otro_pernajuesadl_camarcomerci"
PEP = "t_otro_persexpupoli_sigepperexpo"
PUESTOS = "t_otro_puestsensibl_sigeppsscorr"
CANCELADOS = "t_seii_contracanela_aislamiencon"
EJECUCION = "t_seii_ejecucioncon_avancerevses"
MULTAS = "t_seii_multasysanci_secopiimulsa"
OBRAS = "t_paco_registro_obras_inconclusa"
FISCALES = "t_paco_responsabilidad_fiscales"
CONTRATOS = "t_seii_contratelect_cregistrados"

S = pa.string()
MONEY = pa.decimal128(30, 3)
DAY = pa.date32()
TS = pa.timestamp("us")

COLUMNS: dict[str, dict[str, pa.DataType]] = {
    PROCESOS: {
        "id_proceso": S, "id_portafolio": S, "id_nit_entidad": S, "nombre_entidad": S,
        "nombre_depto_entidad": S, "fecha_publicacion": DAY, "fecha_actualizacion": DAY,
        "fecha_recep_resp": DAY, "fecha_adjudicacion": DAY, "monto_precio_base": MONEY,
        "monto_total_adjudicado": MONEY, "tipo_contratacion": S, "cantidad_prov_unicos": S,
        "id_codigo_categoria": S, "nombre_proveedor": S, "id_nit_proveedor": S,
        "id_proveedor_secop": S, "nombre_contrato": S, "desc_url_proceso": S,
    },
    OFERTAS: {
        "id_proceso_compra": S, "id_oferta": S, "monto_oferta": MONEY,
        "fecha_registro_oferta": DAY, "nombre_proveedor": S, "id_nit_proveedor": S,
    },
    RUES: {
        "id_empresa": S, "id_nit_empresa": S, "tipo_estado_matricula": S,
        "fecha_matricula": DAY, "fecha_cancelacion": DAY,
    },
    PEP: {"id_nit_pep": S, "fecha_vinculacion": TS, "fecha_desvinculacion": TS},
    PUESTOS: {"id_nit_identificacion": S, "fecha_vinculacion": TS},
    CANCELADOS: {
        "id_nit_rep_legal": S, "id_proveedor": S, "id_proceso_compra": S,
        "fecha_firma": DAY, "fecha_modificacion": TS,
    },
    EJECUCION: {
        "id_contrato": S, "cant_recibir": S, "cant_recibida": S, "fecha_entrega_esperada": TS,
    },
    MULTAS: {"nombre_contratista_sancionado": S, "id_contratista": S,
             "fecha_registro_sanacion": TS},
    OBRAS: {"nombre_rol": S, "id_rol": S, "nombre_rol_1": S},
    FISCALES: {
        "nombre_responsable_fiscal": S, "id_responsable_fiscal": S,
        "tipo_respons_responsable_fiscal": S, "cant_registros_responsable_fiscal": pa.int32(),
    },
    CONTRATOS: {
        "id_contrato": S, "id_proceso_compra": S, "fecha_inicio_contrato": DAY,
        "fecha_fin_contrato": DAY, "numero_adicion_dias": S,
    },
}
