"""The sources, as their bulk CSV exports come: file, headers, and the raw zone they become
(table, column names, types, partitions, null rules). The ten the original's ETL read, and
SECOP II Contratos Electrónicos, which its data model (Annex 1) describes and the fixed delivery
indicator needs to link delivery lines to processes.

Each column is ``(export header, raw-zone name, transform)``, restated from the original's ETL
scripts. The transform is one or more words:

- ``text``: trimmed (ASCII spaces only, as Spark's ``trim``); ``upper``: trimmed and upper-cased;
- ``decimal(p,s)``: a number as ``java.math.BigDecimal`` reads it (``1.5E7`` yes; ``1,234``,
  ``$5``, `` 5`` no: null), rounded half-up to ``s`` places, null when it does not fit;
  ``commas``: thousands commas removed first;
- ``int``: an integer as Spark 2.4 casts text (``12.9`` is 12; anything else null); ``int text``:
  the same, back to text (``05`` becomes ``5``);
- ``date PATTERN`` / ``timestamp PATTERN``: parsed as the original's non-lenient
  ``SimpleDateFormat`` does: the pattern must match a prefix of the value (``06/30/2022 12:00:00
  AM`` is 2022-06-30 for ``MM/dd/yyyy``), every field must be valid (``02/30/2022`` is null) and
  numeric fields take all their digits (``06/30/22`` is the year 22);
- ``notrim``: the value is used as it comes (the original does not trim it).

Two patterns are read as they were meant rather than as written: obras inconclusas'
``yyyy-mm-dd`` (``mm`` is minutes in Java, which made ``2011-05-17`` into 2011-01-17) is read as
``yyyy-MM-dd``, and ejecución's ``HH:mm:ss.SSSSSSS`` reads its 7-digit fraction as a fraction of
a second (Java read it as milliseconds, rejecting any fraction above 999) and may be absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

NIT_JUNK = "[A-Z_a-z/.,*\t\ufffd -]"


@dataclass(frozen=True)
class Column:
    """One export column and the raw-zone column it becomes."""

    header: str
    name: str
    kind: str  # text, upper, decimal, int, int text, date, timestamp
    pattern: str = ""  # for dates and timestamps, in Java pattern letters
    precision: int = 0
    scale: int = 0
    trim: bool = True
    commas: bool = False  # thousands commas removed before the cast
    default: str | None = None  # the value a null becomes
    null_years_below: int | None = None  # a date whose year is lower becomes null
    null_years: tuple[int, ...] = ()  # a date whose year is one of these becomes null
    strip: str | None = None  # a regular-expression class of characters removed

    @property
    def sql_type(self) -> str:
        """The raw-zone type, in DuckDB's spelling."""
        if self.kind == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        types = {"int": "INTEGER", "date": "DATE", "timestamp": "TIMESTAMP"}
        return types.get(self.kind, "VARCHAR")


@dataclass(frozen=True)
class Source:
    """One source: its bulk export and the raw-zone table it becomes."""

    key: str  # the raw-zone table, the original's name
    title: str
    file: str  # the bulk export's file name, in staging under origen/
    dataset: str | None  # the Socrata 4x4 id on datos.gov.co, None for the PACO files
    columns: tuple[Column, ...]
    partition: str | None = None  # the second partition column, after fecha_corte_datos
    url: str | None = None  # where a file that is not a Socrata dataset is published
    notes: tuple[str, ...] = field(default=())

    @property
    def headers(self) -> list[str]:
        """The export's headers, in order, each once."""
        return list(dict.fromkeys(c.header for c in self.columns))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _column(header: str, name: str, transform: str) -> Column:
    words = transform.split()
    kind, rest = words[0], words[1:]
    options: dict[str, object] = {"trim": "notrim" not in rest, "commas": "commas" in rest}
    rest = [w for w in rest if w not in ("notrim", "commas")]
    if kind.startswith("decimal("):
        precision, scale = kind[len("decimal(") : -1].split(",")
        options.update(kind="decimal", precision=int(precision), scale=int(scale))
    elif kind in ("date", "timestamp"):
        options.update(kind=kind, pattern=" ".join(rest))
    elif kind == "int" and rest == ["text"]:
        options.update(kind="int text")
    else:
        options.update(kind=kind)
    return Column(header, name, **options)  # type: ignore[arg-type]


def _columns(*specs: tuple[str, str, str], **rules: dict[str, object]) -> tuple[Column, ...]:
    """Columns from ``(header, name, transform)``; ``rules`` add options by raw-zone name."""
    built = []
    for header, name, transform in specs:
        column = _column(header, name, transform)
        if name in rules:
            column = Column(**{**column.__dict__, **rules[name]})  # type: ignore[arg-type]
        built.append(column)
    return tuple(built)


_PROCESOS = _columns(
    ("Entidad", "nombre_entidad", "text"),
    ("Nit Entidad", "id_nit_entidad", "text"),
    ("Departamento Entidad", "nombre_depto_entidad", "text"),
    ("Ciudad Entidad", "nombre_ciudad_entidad", "text"),
    ("OrdenEntidad", "tipo_orden_territorial_entidad", "text"),
    ("Entidad Centralizada", "tipo_centralizada", "text"),
    ("ID del Proceso", "id_proceso", "text"),
    ("Referencia del Proceso", "id_referencia", "text"),
    ("PCI", "id_unidad_pci", "text"),
    ("ID del Portafolio", "id_portafolio", "text"),
    ("Nombre del Procedimiento", "nombre_contrato", "text"),
    ("Descripción del Procedimiento", "desc_contrato", "text"),
    ("Fase", "tipo_fase", "text"),
    ("Fecha de Publicacion del Proceso", "fecha_publicacion", "date MM/dd/yyyy"),
    ("Fecha de Ultima Publicación", "fecha_actualizacion", "date MM/dd/yyyy"),
    (
        "Fecha de Publicacion (Fase Planeacion Precalificacion)",
        "fecha_planeacion_pre",
        "date MM/dd/yyyy",
    ),
    (
        "Fecha de Publicacion (Fase Seleccion Precalificacion)",
        "fecha_seleccion_pre",
        "date MM/dd/yyyy",
    ),
    (
        "Fecha de Publicacion (Manifestacion de Interes)",
        "fecha_manifestacion_int",
        "date MM/dd/yyyy",
    ),
    ("Fecha de Publicacion (Fase Borrador)", "fecha_fase_borrador", "date MM/dd/yyyy"),
    ("Fecha de Publicacion (Fase Seleccion)", "fecha_seleccion", "date MM/dd/yyyy"),
    ("Precio Base", "monto_precio_base", "decimal(30,3)"),
    ("Modalidad de Contratacion", "tipo_contratacion", "text"),
    ("Justificación Modalidad de Contratación", "desc_modalidad_contrato", "text"),
    ("Duracion", "cantidad_duracion", "text"),
    ("Unidad de Duracion", "tipo_duracion", "text"),
    ("Fecha de Recepcion de Respuestas", "fecha_recep_resp", "date MM/dd/yyyy"),
    ("Fecha de Apertura de Respuesta", "fecha_apert_resp", "date MM/dd/yyyy"),
    ("Fecha de Apertura Efectiva", "fecha_apert_efect", "date MM/dd/yyyy"),
    ("Ciudad de la Unidad de Contratación", "nombre_ciudad_unidad", "text"),
    ("Nombre de la Unidad de Contratación", "nombre_unidad_contr", "text"),
    ("Proveedores Invitados", "cantidad_prov_invitados", "text"),
    ("Proveedores con Invitacion Directa", "cantidad_porv_directos", "text"),
    ("Visualizaciones del Procedimiento", "cantidad_visualizaciones", "text"),
    ("Proveedores que Manifestaron Interes", "cantidad_prov_interesados", "text"),
    ("Respuestas al Procedimiento", "cantidad_resp_proced", "text"),
    ("Respuestas Externas", "cantidad_resp_externas", "text"),
    ("Conteo de Respuestas a Ofertas", "cantidad_resp_direct", "text"),
    ("Proveedores Unicos con Respuestas", "cantidad_prov_unicos", "text"),
    ("Numero de Lotes", "cantidad_lotes", "text"),
    ("Estado del Procedimiento", "tipo_estado_proced", "text"),
    ("ID Estado del Procedimiento", "id_estado_proced", "text"),
    ("Adjudicado", "tipo_respuesta_adjudicado", "text"),
    ("ID Adjudicacion", "id_adjudicado", "text"),
    ("CodigoProveedor", "id_proveedor_secop", "text"),
    ("Departamento Proveedor", "nombre_depto_prov", "text"),
    ("Ciudad Proveedor", "nombre_ciudad_prov", "text"),
    ("Fecha Adjudicacion", "fecha_adjudicacion", "date MM/dd/yyyy"),
    ("Valor Total Adjudicacion", "monto_total_adjudicado", "decimal(30,3)"),
    ("Nombre del Adjudicador", "nombre_usuario_adjor", "text"),
    ("Nombre del Proveedor Adjudicado", "nombre_proveedor", "upper"),
    ("NIT del Proveedor Adjudicado", "id_nit_proveedor", "text"),
    ("Codigo Principal de Categoria", "id_codigo_categoria", "text"),
    ("Estado de Apertura del Proceso", "tipo_estado_apertura", "text"),
    ("Tipo de Contrato", "tipo_contrato", "text"),
    ("Subtipo de Contrato", "tipo_sub_contrato", "text"),
    ("Categorias Adicionales", "tipo_cat_ad", "text"),
    ("URLProceso", "desc_url_proceso", "text"),
    ("Codigo Entidad", "id_entidad", "text"),
    ("Estado Resumen", "tipo_estado_resumen", "text"),
)
_OFERTAS = _columns(
    ("Fecha de Registro", "fecha_registro_oferta", "date dd/MM/yyyy"),
    ("Referencia de la Oferta", "desc_oferta", "text"),
    ("Identificador de la Oferta", "id_oferta", "text"),
    ("Valor de la Oferta", "monto_oferta", "decimal(30,3)"),
    ("Entidad Compradora", "nombre_entidad", "text"),
    ("NIT Entidad Compradora", "id_nit_entidad", "text"),
    ("Moneda", "desc_moneda_monto", "text"),
    ("Descripcion del Procedimiento", "desc_contrato", "text"),
    ("Referencia del Proceso", "id_referencia", "text"),
    ("ID del Proceso de Compra", "id_proceso_compra", "text"),
    ("Modalidad", "tipo_contratacion", "text"),
    ("Invitacion Directa", "tipo_invitacion_directa", "text"),
    ("Nombre Proveedor", "nombre_proveedor", "upper"),
    ("NIT del Proveedor", "id_nit_proveedor", "text"),
    ("Codigo Entidad", "id_entidad", "text"),
    ("Codigo Proveedor", "id_proveedor_secop", "text"),
)
_RUES = _columns(
    ("codigo_camara", "id_camara", "text"),
    ("camara_comercio", "nombre_camara", "upper"),
    ("matricula", "id_matricula_mercantil", "text"),
    ("inscripcion_proponente", "id_inscripcion_proponente", "upper"),
    ("razon_social", "nombre_razon_social", "upper"),
    ("primer_apellido", "nombre_primer_apellido", "upper"),
    ("segundo_apellido", "nombre_segundo_apellido", "upper"),
    ("primer_nombre", "nombre_primero", "upper"),
    ("segundo_nombre", "nombre_segundo", "upper"),
    ("sigla", "nombre_sigla", "upper"),
    ("codigo_clase_identificacion", "codigo_clase_identificacion", "text"),
    ("clase_identificacion", "tipo_identificacion", "text"),
    ("numero_identificacion", "id_empresa", "text"),
    ("nit", "id_nit_empresa", "text"),
    ("digito_verificacion", "id_digito_verificacion", "text"),
    ("cod_ciiu_act_econ_pri", "id_ciiu_principal", "text"),
    ("cod_ciiu_act_econ_sec", "id_ciiu_secundaria", "text"),
    ("ciiu3", "id_ciiu_terciaria", "text"),
    ("ciiu4", "id_ciiu_cuaternaria", "text"),
    ("fecha_matricula", "fecha_matricula", "date yyyyMMdd"),
    ("fecha_renovacion", "fecha_ultima_renovacion", "date yyyyMMdd"),
    ("ultimo_ano_renovado", "fecha_anio_renovado", "text"),
    ("fecha_vigencia", "fecha_vigencia", "date yyyyMMdd"),
    ("fecha_cancelacion", "fecha_cancelacion", "date yyyyMMdd"),
    ("codigo_tipo_sociedad", "codigo_tipo_sociedad", "text"),
    ("tipo_sociedad", "tipo_sociedad", "text"),
    ("codigo_organizacion_juridica", "codigo_organziacion", "text"),
    ("organizacion_juridica", "tipo_organizacion", "text"),
    ("codigo_categoria_matricula", "codigo_categoria_matricula", "text"),
    ("categoria_matricula", "categoria_matricula", "text"),
    ("codigo_estado_matricula", "codigo_estado_matricula", "text"),
    ("estado_matricula", "tipo_estado_matricula", "text"),
    ("clase_identificacion_RL", "tipo_identificacion_rep_leg", "text"),
    ("Num Identificacion Representante Legal", "id_nit_rep_leg", "text"),
    ("Representante Legal", "nombre_rep_leg", "upper"),
    ("fecha_actualizacion", "fecha_acutalizacion", "timestamp yyyy/MM/dd HH:mm:ss"),
    # the original: these four dates become null when their year is before 1959
    fecha_matricula={"null_years_below": 1959},
    fecha_ultima_renovacion={"null_years_below": 1959},
    fecha_vigencia={"null_years_below": 1959},
    fecha_cancelacion={"null_years_below": 1959},
)
_PEP = _columns(
    ("NUMERO_DOCUMENTO", "id_nit_pep", "text"),
    ("NOMBRE_PEP", "nombre_pep", "upper"),
    ("DENOMINACION_CARGO", "nombre_cargo_pep", "text"),
    ("NOMBRE_ENTIDAD", "nombre_entidad", "text"),
    ("FECHA_VINCULACION", "fecha_vinculacion", "timestamp MM/dd/yyyy HH:mm:ss"),
    ("FECHA_DESVINCULACION", "fecha_desvinculacion", "timestamp MM/dd/yyyy HH:mm:ss"),
    ("ENLACE_HOJA_VIDA_SIGEP", "desc_url_hoja_vida_pep", "text"),
)
_PUESTOS = _columns(
    ("TIPO_DCTO", "tipo_identificacion", "text"),
    ("IDENTIFICACION_FUNCIONARIO", "id_nit_identificacion", "text"),
    ("NOMBRE_COMPLETO", "nombre_empleado", "upper"),
    ("SEXO", "desc_sexo_empleado", "text"),
    ("NACIONALIDAD", "nombre_nacionalidad_empleado", "text"),
    ("MUNICIPIO_NACIMIENTO", "nombre_mcpio_empleado", "text"),
    ("DPTO_NACIMIENTO", "nombre_depto_empleado", "text"),
    ("MESES_EXPERIENCIA_PUBLICO", "numero_meses_exp_pub", "text"),
    ("MESES_EXPERIENCIA_PRIVADO", "numero_meses_exp_priv", "text"),
    ("MESES_EXP_NEG_PROPIO", "numero_meses_exp_ind", "text"),
    ("MESES_EXPERIENCIA_DOCENTE", "numero_meses_exp_doc", "text"),
    ("NIVEL_ACADEMICO", "tipo_nivel_educativo", "text"),
    ("NIVEL_FORMACION", "tipo_nivel_formacion", "text"),
    ("COD_INSTITUCION", "id_entidad", "text"),
    ("NOMBRE_INSTITUCION", "nombre_entidad", "text"),
    ("MUNICIPIO_INSTITUCION", "nombre_mcpio_entidad", "text"),
    ("DPTO_INSTITUCION", "nombre_depto_entidad", "text"),
    ("ORDEN", "tipo_orden_territorial_entidad", "text"),
    ("SECTOR_ADMTIVO", "tipo_sector_admin", "text"),
    ("NATURALEZA_JURIDICA", "tipo_naturaleza", "text"),
    ("CLASIFICACION_ORGANICA", "nombre_rama_entidad", "text"),
    ("NIVEL_JERARQUICO_EMPLEO", "tipo_nivel_jerarquico", "text"),
    ("TIPO_NOMBRAMIENTO", "tipo_nombramiento", "text"),
    ("DENOMINACION_EMPLEO_ACTUAL", "nombre_cargo", "text"),
    ("DEPENDENCIA_EMPLEO_ACTUAL", "tipo_dependencia", "text"),
    ("ASIG_BASICA", "monto_asignacion_salarial", "decimal(30,3) commas notrim"),
    ("FECHA_VINCULACION", "fecha_vinculacion", "timestamp MM/dd/yyyy HH:mm:ss"),
    tipo_nombramiento={"default": "NO DEFINIDO"},
)


# The SECOP II contract family: cancelled contracts and contracts share most columns.
def _contract_entity(place: str) -> tuple[tuple[str, str, str], ...]:
    """The buying entity; ``place`` ends the names of its city and location columns."""
    return (
        ("Nombre Entidad", "nombre_entidad", "text"),
        ("Nit Entidad", "id_nit_entidad", "text"),
        ("Departamento", "nombre_depto_entidad", "text"),
        ("Ciudad", f"nombre_ciudad_{place}", "text"),
        ("Localización", f"nombre_localizacion_{place}", "text"),
        ("Orden", "tipo_orden_territorial_entidad", "text"),
        ("Sector", "nombre_sector_entidad", "text"),
        ("Rama", "nombre_rama_entidad", "text"),
        ("Entidad Centralizada", "tipo_centralizada", "text"),
        ("Proceso de Compra", "id_proceso_compra", "text"),
        ("ID Contrato", "id_contrato", "text"),
        ("Referencia del Contrato", "id_ref_contrato", "text"),
        ("Estado Contrato", "tipo_estado_contrato", "text"),
        ("Codigo de Categoria Principal", "id_codigo_cat_principal", "text"),
        ("Descripcion del Proceso", "desc_proceso", "text"),
        ("Tipo de Contrato", "tipo_contrato", "text"),
        ("Modalidad de Contratacion", "tipo_modalidad_contrato", "text"),
        ("Justificacion Modalidad de Contratacion", "desc_justificacion_mod_cont", "text"),
    )


def _contract_terms(pattern: str) -> tuple[tuple[str, str, str], ...]:
    """The contract's dates (in the export's ``pattern``) and its supplier."""
    return (
        ("Fecha de Firma", "fecha_firma", f"date {pattern}"),
        ("Fecha de Inicio del Contrato", "fecha_inicio_contrato", f"date {pattern}"),
        ("Fecha de Fin del Contrato", "fecha_fin_contrato", f"date {pattern}"),
        ("Fecha de Inicio de Ejecucion", "fecha_inicio_ejecucion", f"date {pattern}"),
        ("Fecha de Fin de Ejecucion", "fecha_fin_ejecucion", f"date {pattern}"),
        ("Condiciones de Entrega", "tipo_condicion_entrega", "text"),
        ("TipoDocProveedor", "tipo_identificacion_proveedor", "text"),
        ("Documento Proveedor", "id_proveedor", "text"),
        ("Proveedor Adjudicado", "nombre_proveedor", "upper"),
        ("Es Grupo", "tipo_marca_grupo", "text"),
        ("Es Pyme", "tipo_marca_pyme", "text"),
        ("Habilita Pago Adelantado", "tipo_habilita_pago_adel", "text"),
        ("Liquidación", "tipo_liquidacion", "text"),
        ("Obligación Ambiental", "tipo_obligacion_ambiental", "text"),
        ("Obligaciones Postconsumo", "tipo_obligacion_postconsumo", "text"),
        ("Reversion", "tipo_reversion", "text"),
    )


_CONTRACT_VALUES = (
    ("Valor del Contrato", "monto_contrato", "decimal(30,3)"),
    ("Valor de pago adelantado", "monto_pago_adelanto", "decimal(30,3)"),
    ("Valor Facturado", "monto_facturado", "decimal(30,3)"),
    ("Valor Pendiente de Pago", "monto_pendiente_pago", "decimal(30,3)"),
    ("Valor Pagado", "monto_pagado", "decimal(30,3)"),
    ("Valor Amortizado", "monto_amortizado", "decimal(30,3)"),
    ("Valor Pendiente de Amortizacion", "monto_pendiente_amorti", "decimal(30,3)"),
    ("Valor Pendiente de Ejecucion", "monto_pendiente_ejecucion", "decimal(30,3)"),
    ("Estado BPIN", "id_estado_bpin", "text"),
    ("Código BPIN", "id_bpin", "text"),
    ("Anno BPIN", "fecha_anio_bpin", "text"),
    ("Saldo CDP", "monto_saldo_cdp", "decimal(30,3)"),
    ("Saldo Vigencia", "monto_saldo_vigencia", "decimal(30,3)"),
    ("EsPostConflicto", "tipo_marca_postconflicto", "text"),
)
_CONTRACT_FUNDING = (
    ("Presupuesto General de la Nacion – PGN", "monto_pgn", "decimal(30,3)"),
    ("Sistema General de Participaciones", "monto_gral_participantes", "decimal(30,3)"),
    ("Sistema General de Regalías", "monto_gral_regalias", "decimal(30,3)"),
    (
        "Recursos Propios (Alcaldías, Gobernaciones y Resguardos Indígenas)",
        "monto_recursos_territorios",
        "decimal(30,3)",
    ),
    ("Recursos de Credito", "monto_recursos_credito", "decimal(30,3)"),
    ("Recursos Propios", "monto_recursos_propios", "decimal(30,3)"),
)
_CANCELADOS = _columns(
    *_contract_entity("datos"),
    *_contract_terms("dd/MM/yyyy"),  # day first in this export
    ("Origen de los Recursos", "id_origen_recurso", "text"),
    ("Destino Gasto", "id_destino_gasto", "text"),
    *_CONTRACT_VALUES,
    ("Días Adicionados", "numero_adicion_dias", "text"),
    ("Puntos del Acuerdo", "tipo_puntos_acuerdo", "text"),
    ("Pilares del Acuerdo", "id_pilares_acuerdo", "text"),
    ("URLProceso", "desc_url_proceso", "text"),
    ("Nombre Representante Legal", "nombre_representante_legal", "upper"),
    ("Nacionalidad Representante Legal", "nombre_nacionalidad_rep_leg", "upper"),
    ("Domicilio Representante Legal", "desc_direccion_rep_legal", "text"),
    ("Tipo de Identificación Representante Legal", "tipo_id_rep_legal", "text"),
    ("Identificación Representante Legal", "id_nit_rep_legal", "text"),
    ("Género Representante Legal", "tipo_genero_rep_legal", "text"),
    *_CONTRACT_FUNDING,
    ("FechaModificacion", "fecha_modificacion", "timestamp dd/MM/yyyy HH:mm:ss"),
    ("Codigo Entidad", "id_entidad", "text"),
    ("Codigo Proveedor", "id_proveedor_secop", "text"),
)
_EJECUCION = _columns(
    ("NombrePlan", "nombre_plan", "text"),
    ("IdentificadorContrato", "id_contrato", "text"),
    ("TipoEjecucion", "tipo_ejecucion", "text"),
    ("PorcentajeDeAvanceEsperado", "porc_avance_esper", "decimal(7,4)"),
    ("FechaDeEntregaReal", "fecha_entrega_real", "timestamp yyyy-MM-dd HH:mm:ss.SSSSSSS"),
    ("FechaDeEntregaEsperada", "fecha_entrega_esperada", "timestamp yyyy-MM-dd HH:mm:ss.SSSSSSS"),
    ("CantidadPorRecibir", "cant_recibir", "text"),
    ("CantidadRecibida", "cant_recibida", "text"),
    ("FechaCreacion", "fecha_creacion", "timestamp yyyy-MM-dd HH:mm:ss.SSSSSSS"),
    fecha_entrega_real={"null_years": (18, 202, 218, 219, 221)},
)
_MULTAS = _columns(
    ("ID Proceso", "id_proceso", "text"),
    ("Referencia Proceso", "id_referencia", "text"),
    ("ID Contrato", "id_contrato", "text"),
    ("Codigo Entidad Creadora", "id_entidad", "text"),
    ("Nombre Entidad Creadora", "nombre_entidad", "upper"),
    (" Codigo Proveedor Objeto de la Multa", "id_contratista", "text"),
    ("Nombre Proveedor Objeto de la Multa", "nombre_contratista_sancionado", "upper"),
    ("Valor", "monto_sancion", "decimal(30,3)"),
    ("Valor Pagado", "monto_sancion_pagado", "decimal(30,3)"),
    ("Fecha Evento", "fecha_registro_sanacion", "timestamp MM/dd/yyyy HH:mm:ss"),
    ("Aplico Garantias", "tipo_aplica_garantia", "text"),
    ("Numero de Acto", "codigo_acto", "text"),
    ("Tipo de Sancion", "tipo_sancion", "text"),
    ("Descripcion Otro Tipo De Sancion", "desc_otro_sancion", "text"),
    ("Estado", "tipo_estado", "text"),
    ("Tipo", "tipo_multa", "text"),
    ("Numero de Version", "numero_version", "text"),
)
_OBRAS = _columns(
    ("", "numero_registro", "text"),
    ("COD_ENTIDAD", "id_entidad", "text"),
    ("COD_OBRA", "id_obra", "text"),
    ("CONSECUTIVO", "id_consecutivo", "text"),
    ("NUMERO_ACTA_2011", "id_acta", "text"),
    ("FECHA_2011", "fecha_acta", "date yyyy-MM-dd notrim"),
    ("COMPROMISOS_2011", "desc_compromiso", "text"),
    ("ENTIDAD_2010", "id_nit_entidad", "text"),
    ("NUMERO_PROCESO_2010", "id_proceso", "text"),
    ("TIPO_2010", "tipo_obra_inconclusa", "text"),
    ("ESTADO_2010", "tipo_estado_contrato", "text"),
    ("NIT_ASEGURADORA_2009", "id_nit_aseguradora", "text"),
    ("NOMBRE_ASEGURADORA_2009", "nombre_aseguradora", "text"),
    ("FECHA_INICIO_2009", "fecha_incio_asegurar", "date yyyy-MM-dd notrim"),
    ("FECHA_FIN_2009", "fecha_fin_asegurar", "date yyyy-MM-dd notrim"),
    ("NUMERO_POLIZA_2009", "id_poliza_seguro", "text"),
    ("VALOR_ASEGURADO_2009", "monto_asegurado", "decimal(30,3)"),
    ("TIPO_GARANTIA_2009", "tipo_marca_garantia", "text"),
    ("RIESGOS_2009", "desc_riesgos_obra", "text"),
    ("INDEMNIZACION_2009", "tipo_marca_indemnizacion", "text"),
    ("VALOR_INDEMNIZADO_2009", "monto_indemnizado", "decimal(30,3)"),
    ("VALOR_2008", "monto_obra", "decimal(30,3)"),
    ("FECHA_2008", "fecha_indemnizacion", "date yyyy-MM-dd notrim"),
    ("ESTADO_PRESUPUESTO_2008", "tipo_marca_estado_presupuesto", "text"),
    ("DESCRIPCION_2007", "desc_obra_inconclusa", "text"),
    ("FECHA_2007", "fecha_licencia", "date yyyy-MM-dd notrim"),
    ("AUTORIDAD_2007", "id_nit_autoridad", "text"),
    ("NUMERO_LICENCIA_2007", "id_licencia_construccion", "text"),
    ("ROL_2006", "nombre_rol", "text"),
    ("TIPO_IDENTIFICACION_2006", "tipo_identificacion", "text"),
    ("IDENTIFICACION_2006", "id_rol", "text"),
    ("NOMBRE_2006", "nombre_rol_1", "text"),
    ("FUENTE_2005", "desc_origen_recuros", "text"),
    ("PORCENTAJE_2005", "por_origen_recursos", "text"),
    ("COD_DEPARTAMENTO_2004", "id_departamento", "int text"),
    ("DEPARTAMENTO_2004", "nombre_departamento", "text"),
    ("COD_CIUDAD_2004", "id_ciudad", "int text"),
    ("CIUDAD_2004", "nombre_ciudad", "text"),
    ("FECHA_INICIO_2002", "fecha_modificacion", "date yyyy-MM-dd notrim"),
    ("OTROSI_2002", "tipo_otro_si", "text"),
    ("TIPO_MODIFICACION_2002", "tipo_marca_modificacion", "text"),
    ("NUMERO_CONTRATO_2002", "id_contrato", "text"),
    ("JUSTIFICACION_2002", "desc_justificacion_mod", "text"),
    ("OBJETO_2002", "desc_objeto_contrato", "text"),
    ("VALOR_CONTRATO_2002", "monto_contrato", "decimal(30,3)"),
    ("PLAZO_EN_DIAS_2002", "numero_dias_plazo", "int"),
    ("ESTA_SECOP_2002", "tipo_marca_secop", "text"),
    ("CODIGO_SECOP_2002", "id_secop", "text"),
    ("DESCRIPCION_2000", "desc_contrato", "text"),
    ("COD_SECTOR_2000", "id_sector", "int text"),
    ("SECTOR_2000", "nombre_sector", "text"),
    ("GRUPO_2000", "nombre_grupo", "text"),
    ("NOMBREENTIDAD_2000", "nombre_entidad", "text"),
    ("AREA_PREDIO_2000", "numero_area_predio", "decimal(10,5)"),
    ("AREA_CONTRATADA_2000", "numero_area_contratada", "decimal(10,5)"),
    ("AREA_CONSTRUIDA_2000", "numero_area_construida", "decimal(10,5)"),
    ("ULTIMO_AVANCE_2000", "por_ultimo_avance", "decimal(7,4)"),
    ("PRESUPUESTO_TOTAL_2000", "monto_presupuesto_total", "decimal(30,3)"),
    ("MATRICULA_INMOBILIARIA_2000", "id_matricula_inmobiliaria", "text"),
    ("CEDULA_CATASTRAL_2000", "id_catastral", "text"),
    ("PORQUE_ESTADO_2000", "desc_motivo_estado", "text"),
    ("DECISION_ADMIN_2000", "desc_decision_administrativo", "text"),
    ("ACTO_ADMINISTRATIVO_2000", "desc_acto_administrativo", "text"),
    ("CLASE_OBRA_2000", "tipo_obra", "text"),
    ("ESTADO_REGISTRO_2000", "tipo_marca_registro", "text"),
    ("ORIGEN_REGISTRO_2000", "nombre_origen_registro", "text"),
    ("TIPO_REPORTE_2000", "desc_reporte_obra", "text"),
    ("RAZ_NOUSO_2000", "desc_motivo_no_uso", "text"),
    ("LONGITUDINICIAL_2000", "numero_longitud_inicial", "decimal(10,5)"),
    ("LONGITUDFINAL_2000", "numero_longitud_final", "decimal(10,5)"),
    ("LATITUDINICIAL_2000", "numero_latitud_inicial", "decimal(10,5)"),
    ("LATITUDFINAL_2000", "numero_latitud_final", "decimal(10,5)"),
    ("PR_INICIAL_2000", "campo_libre", "text"),
    ("PR_INICIAL_M_2000", "campo_libre_1", "text"),
    ("PR_FINAL_2000", "campo_libre_2", "text"),
    ("PR_FINAL_M_2000", "campo_libre_3", "text"),
    ("NIT_2001", "id_nit_entidad_1", "text"),
    ("ENTIDAD_2001", "nombre_entidad_1", "text"),
    ("DESCRIPCION_2003", "desc_actualizacion_valor", "text"),
    ("PRESUPUESTO_TOTAL_2000", "monto_presupuesto_total_1", "decimal(30,3)"),
    ("VALOR_2003", "monto_contrato_1", "decimal(30,3)"),
    ("FECHA_2003", "fecha_registro_valor", "date yyyy-MM-dd notrim"),
    # the original removes letters, '_', '/', '.', ',', '*', tabs, U+FFFD, spaces and '-'
    id_nit_entidad={"strip": NIT_JUNK},
    id_nit_entidad_1={"strip": NIT_JUNK},
)
# SECOP II Contratos Electrónicos: the original's Annex 1 model (no ETL script of it ran). Its
# transforms as the Annex gives them: three names upper-cased, dates MM/dd/yyyy, money as
# decimal(30,3), "Ultima Actualizacion" a timestamp; "Fecha Inicio/Fin Liquidacion" are cast to
# timestamps there, which would null the export's MM/dd/yyyy text, so they are read by that
# pattern (a prefix, as every other date).
_CONTRATOS = _columns(
    *_contract_entity("entidad"),
    *_contract_terms("MM/dd/yyyy"),
    *_CONTRACT_VALUES,
    ("URLProceso", "desc_url_proceso", "text"),
    ("Destino Gasto", "id_destino_gasto", "text"),
    ("Origen de los Recursos", "id_origen_recurso", "text"),
    ("Dias Adicionados", "numero_adicion_dias", "text"),
    ("Puntos del Acuerdo", "tipo_puntos_acuerdo", "text"),
    ("Pilares del Acuerdo", "id_pilares_acuerdo", "text"),
    ("Nombre Representante Legal", "nombre_representante_legal", "upper"),
    ("Nacionalidad Representante Legal", "nombre_nacionalidad_rep_leg", "upper"),
    ("Tipo de Identificación Representante Legal", "tipo_id_rep_legal", "text"),
    ("Identificación Representante Legal", "id_nit_rep_legal", "text"),
    ("Género Representante Legal", "tipo_genero_rep_legal", "text"),
    *_CONTRACT_FUNDING,
    ("Ultima Actualizacion", "fecha_modificacion", "timestamp MM/dd/yyyy HH:mm:ss"),
    ("Codigo Entidad", "id_entidad", "text"),
    ("Fecha Inicio Liquidacion", "fecha_inicio_liquidacion", "timestamp MM/dd/yyyy"),
    ("Fecha Fin Liquidacion", "fecha_fin_liquidacion", "timestamp MM/dd/yyyy"),
    ("Codigo Proveedor", "id_proveedor_secop", "text"),
    ("Objeto del Contrato", "desc_objeto_contrato", "text"),
)
_RESPONSABLES = _columns(
    ("Responsable Fiscal", "nombre_responsable_fiscal", "text notrim"),
    ("Tipo y Num Docuemento", "id_responsable_fiscal", "text notrim"),
    ("Entidad Afectada", "nombre_entidad_afectada", "text notrim"),
    ("TR", "tipo_respons_responsable_fiscal", "text notrim"),
    ("R", "cant_registros_responsable_fiscal", "int notrim"),
    ("Ente que Reporta", "desc_apertura_sancion_colusion", "text notrim"),
    ("Departamento", "nombre_depto_entidad", "text notrim"),
    ("Municipio", "nombre_mcpio_entidad", "text notrim"),
)


SOURCES: dict[str, Source] = {
    source.key: source
    for source in (
        Source(
            "t_seii_procecotrata_compraadjudi",
            "SECOP II - Procesos de Contratación",
            "SECOP_II_-_Procesos_de_Contrataci_n.csv",
            "p6dx-8zbt",
            _PROCESOS,
        ),
        Source(
            "t_seii_ofertaproces_procesocompr",
            "SECOP II - Ofertas Por Proceso",
            "SECOPII_-_Ofertas_Por_Proceso.csv",
            "wi7w-2nvm",
            _OFERTAS,
            partition="tipo_contratacion",
        ),
        Source(
            "t_otro_pernajuesadl_camarcomerci",
            "Personas Naturales, Personas Jurídicas y Entidades Sin Ánimo de Lucro (RUES)",
            "Personas_Naturales__Personas_Jur_dicas_y_Entidades_Sin_Animo_de_Lucro.csv",
            "c82u-588k",
            _RUES,
            partition="tipo_estado_matricula",
        ),
        Source(
            "t_otro_persexpupoli_sigepperexpo",
            "Personas Expuestas Políticamente (PEP)",
            "Personas_Expuestas_Pol_ticamente__PEP_.csv",
            "3qxn-uc22",
            _PEP,
        ),
        Source(
            "t_otro_puestsensibl_sigeppsscorr",
            "Puestos Sensibles a la Corrupción",
            "Puestos_Sensibles_a_la_Corrupci_n.csv",
            "5u9e-g5w9",
            _PUESTOS,
            partition="tipo_nombramiento",
        ),
        Source(
            "t_seii_contracanela_aislamiencon",
            "SECOP II - Contratos Cancelados",
            "SECOPII_-_Contratos_Cancelados.csv",
            "8uyg-q2s6",
            _CANCELADOS,
        ),
        Source(
            "t_seii_contratelect_cregistrados",
            "SECOP II - Contratos Electrónicos",
            "SECOP_II_-_Contratos_Electr_nicos.csv",
            "jbjy-vk9h",
            _CONTRATOS,
            partition="tipo_estado_contrato",
        ),
        Source(
            "t_seii_ejecucioncon_avancerevses",
            "SECOP II - Ejecución Contratos",
            "SECOP_II_-_Ejecuci_n_Contratos.csv",
            "mfmm-jqmq",
            _EJECUCION,
            partition="tipo_ejecucion",
        ),
        Source(
            "t_seii_multasysanci_secopiimulsa",
            "SECOP II - Multas y Sanciones",
            "SECOPII_-_Multas_y_Sanciones.csv",
            "it5q-hg94",
            _MULTAS,
        ),
        Source(
            "t_paco_registro_obras_inconclusa",
            "PACO - Registro de obras inconclusas",
            "obras inconclusas.csv",
            None,
            _OBRAS,
            notes=("MD-2000-2011.xls saved as CSV by hand (its first header cell is empty)",),
        ),
        Source(
            "t_paco_responsabilidad_fiscales",
            "PACO - Boletín de responsables fiscales",
            "responsabilidades_fiscales.csv",
            None,
            _RESPONSABLES,
            url="https://paco7public7info7prod.blob.core.windows.net/paco-pulic-info/"
            "responsabilidades_fiscales.csv",
        ),
    )
}


def source(key: str) -> Source:
    """The source whose raw table, dataset id or file name is ``key``."""
    for candidate in SOURCES.values():
        if key in (candidate.key, candidate.dataset, candidate.file):
            return candidate
    raise KeyError(key)


def date_columns(src: Source) -> Iterator[Column]:
    return (c for c in src.columns if c.kind in ("date", "timestamp"))
