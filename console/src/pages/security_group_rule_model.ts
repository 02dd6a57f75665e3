// Security-group rules as data: the presets, the editor's drafts, and their conversion to and from API shapes; pure, no UI.
import type { IpPermission, SecurityGroupRule, SecurityGroupRuleRequest } from "@aws-sdk/client-ec2";
import { cidrOk } from "./security_group_shared";

export type PresetId = "ssh" | "http" | "https" | "custom-tcp" | "custom-udp" | "icmp" | "all";

export const PRESETS: { id: PresetId; label: string; protocol: string; port?: number }[] = [
  { id: "ssh", label: "SSH", protocol: "tcp", port: 22 },
  { id: "http", label: "HTTP", protocol: "tcp", port: 80 },
  { id: "https", label: "HTTPS", protocol: "tcp", port: 443 },
  { id: "custom-tcp", label: "Custom TCP", protocol: "tcp" },
  { id: "custom-udp", label: "Custom UDP", protocol: "udp" },
  { id: "icmp", label: "All ICMP", protocol: "icmp" },
  { id: "all", label: "All traffic", protocol: "-1" },
];

export type SourceKind = "myip" | "anywhere" | "cidr" | "group";

export interface Draft {
  preset: PresetId;
  ports: string;
  source: SourceKind;
  cidr: string;
  groupId: string;
  description: string;
}

export function presetOf(r: SecurityGroupRule): PresetId {
  const p = r.IpProtocol ?? "";
  if (p === "-1" || p === "all") return "all";
  if (p === "icmp" || p === "1") return "icmp";
  if (p === "udp" || p === "17") return "custom-udp";
  if (r.FromPort === r.ToPort) {
    const hit = PRESETS.find((x) => x.port === r.FromPort);
    if (hit) return hit.id;
  }
  return "custom-tcp";
}

export function portText(r: SecurityGroupRule): string {
  const p = r.IpProtocol ?? "";
  if (p === "-1" || p === "all") return "All";
  if (p === "icmp" || p === "1") return r.FromPort === -1 || r.FromPort === undefined ? "All" : `type ${r.FromPort}`;
  if (r.FromPort === undefined) return "—";
  return r.FromPort === r.ToPort ? String(r.FromPort) : `${r.FromPort}–${r.ToPort}`;
}

export function protocolText(p?: string): string {
  if (p === "-1" || p === "all") return "All";
  return (p ?? "").toUpperCase();
}

export function peerText(r: SecurityGroupRule, mine: string | null): string {
  if (r.ReferencedGroupInfo?.GroupId) return r.ReferencedGroupInfo.GroupId;
  const c = r.CidrIpv4 ?? r.CidrIpv6 ?? r.PrefixListId ?? "—";
  if (c === "0.0.0.0/0" || c === "::/0") return `${c} (Anywhere)`;
  if (mine && c === mine) return `${c} (My IP)`;
  return c;
}

export function draftOf(r: SecurityGroupRule, mine: string | null): Draft {
  const preset = presetOf(r);
  const cidr = r.CidrIpv4 ?? "";
  const source: SourceKind = r.ReferencedGroupInfo?.GroupId
    ? "group"
    : cidr === "0.0.0.0/0"
      ? "anywhere"
      : mine && cidr === mine
        ? "myip"
        : "cidr";
  return {
    preset,
    ports: preset === "custom-tcp" || preset === "custom-udp" ? portText(r).replace("–", "-") : "",
    source,
    cidr,
    groupId: r.ReferencedGroupInfo?.GroupId ?? "",
    description: r.Description ?? "",
  };
}

export function newDraft(egress: boolean, mine: string | null): Draft {
  return egress
    ? { preset: "all", ports: "", source: "anywhere", cidr: "", groupId: "", description: "" }
    : { preset: "ssh", ports: "", source: mine ? "myip" : "anywhere", cidr: "", groupId: "", description: "" };
}

// The draft as a SecurityGroupRuleRequest, or the words saying what is wrong with it.
export function toRequest(d: Draft, mine: string | null): SecurityGroupRuleRequest | string {
  const preset = PRESETS.find((p) => p.id === d.preset)!;
  const req: SecurityGroupRuleRequest = { IpProtocol: preset.protocol };
  if (preset.port !== undefined) {
    req.FromPort = req.ToPort = preset.port;
  } else if (preset.protocol === "tcp" || preset.protocol === "udp") {
    const m = /^\s*(\d{1,5})\s*(?:[-–]\s*(\d{1,5})\s*)?$/.exec(d.ports);
    if (!m) return "Enter a port (8080) or a port range (8000-8090).";
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    if (from > 65535 || to > 65535 || from > to) return "Ports go from 0 to 65535, the first no higher than the last.";
    req.FromPort = from;
    req.ToPort = to;
  } else if (preset.protocol === "icmp") {
    req.FromPort = req.ToPort = -1;
  }
  if (d.source === "group") {
    if (!/^sg-[0-9a-zA-Z]+$/.test(d.groupId.trim())) return "Choose a security group (sg-…).";
    req.ReferencedGroupId = d.groupId.trim();
  } else {
    const cidr = d.source === "anywhere" ? "0.0.0.0/0" : d.source === "myip" ? mine : d.cidr.trim();
    if (!cidr) return "Kumo could not tell this browser's address; enter a CIDR block instead.";
    if (!cidrOk(cidr)) return "Enter an IPv4 CIDR block such as 203.0.113.7/32 or 10.0.0.0/16.";
    req.CidrIpv4 = cidr;
  }
  if (d.description.trim()) req.Description = d.description.trim();
  return req;
}

export function toPermission(r: SecurityGroupRuleRequest): IpPermission {
  const p: IpPermission = { IpProtocol: r.IpProtocol, FromPort: r.FromPort, ToPort: r.ToPort };
  if (r.ReferencedGroupId) p.UserIdGroupPairs = [{ GroupId: r.ReferencedGroupId, Description: r.Description }];
  else p.IpRanges = [{ CidrIp: r.CidrIpv4, Description: r.Description }];
  return p;
}
