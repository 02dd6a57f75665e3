// Security-group helpers the launch wizard shares with the Security groups page (listing, naming, My IP, SSH group); no UI.
import { useEffect, useState } from "preact/hooks";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import { ec2, myIp, type Session } from "../api";

export async function listSecurityGroups(session: Session): Promise<SecurityGroup[]> {
  const out: SecurityGroup[] = [];
  let token: string | undefined;
  do {
    const page = await ec2(session).send(new DescribeSecurityGroupsCommand({ NextToken: token }));
    out.push(...(page.SecurityGroups ?? []));
    token = page.NextToken;
  } while (token);
  return out.sort((a, b) => (a.GroupName ?? "").localeCompare(b.GroupName ?? ""));
}

// "launch-wizard-N" with N one more than the highest such name already taken, as EC2's wizard does.
export function nextLaunchWizardName(groups: SecurityGroup[] | undefined): string {
  let n = 0;
  for (const g of groups ?? []) {
    const m = /^launch-wizard-(\d+)$/.exec(g.GroupName ?? "");
    if (m) n = Math.max(n, Number(m[1]));
  }
  return `launch-wizard-${n + 1}`;
}

export function cidrOk(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s.trim());
  return !!m && m.slice(1, 5).every((p) => Number(p) <= 255) && Number(m[5]) <= 32;
}

// The address this browser's connections come from, as seen by instances: undefined while asking,
// null when Kumo could not say.
export function useMyIp(): string | null | undefined {
  const [ip, setIp] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    myIp().then((v) => live && setIp(v));
    return () => {
      live = false;
    };
  }, []);
  return ip;
}

export function myIpCidr(ip: string | null | undefined): string | null {
  if (!ip) return null;
  return ip.includes("/") ? ip : ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

// Creates a group and lets SSH (tcp 22) in from cidr; returns the new GroupId. If the rule is
// refused the group is deleted again, so that a retry with the same name works.
export async function createGroupWithSsh(
  session: Session,
  name: string,
  description: string,
  cidr: string,
): Promise<string> {
  const client = ec2(session);
  const created = await client.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: description || name }),
  );
  const id = created.GroupId!;
  try {
    await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [
          { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: cidr, Description: "SSH" }] },
        ],
      }),
    );
  } catch (e) {
    await client.send(new DeleteSecurityGroupCommand({ GroupId: id })).catch(() => undefined);
    throw e;
  }
  return id;
}
